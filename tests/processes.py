"""`python -m bot` as a child process, with exactly the environment a test means, and what the
end-to-end tests share to drive it against the fake Bot API (replies to wait for, buttons to press).

The child gets PATH and HOME (to find programs and a home) and this checkout on PYTHONPATH, plus
the bot settings the test names; nothing else of the developer's shell reaches it. Run it in a
fresh folder (a `tmp_path`), so no `.env` is read either. When it dies unexpectedly, the failure
shows the end of its stderr.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from bot.settings import Settings
from tests.factories import product_row
from tests.fakes.bot_api import Call, FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]
PASSED = ("PATH", "HOME", "SYSTEMROOT", "TMPDIR")  # how to run at all, never a bot setting
SETTINGS = frozenset(name.upper() for name in Settings.model_fields)

T = TypeVar("T")


def bot_env(**settings: str) -> dict[str, str]:
    """The child's whole environment: PATH, HOME, PYTHONPATH and the given settings (BOT_TOKEN=…)."""
    unknown = {name for name in settings if name.upper() not in SETTINGS}
    assert not unknown, f"not bot settings: {sorted(unknown)}"
    env = {name: os.environ[name] for name in PASSED if name in os.environ}
    env["PYTHONPATH"] = str(ROOT)
    env["PYTHONIOENCODING"] = "utf-8"  # the tests read Chinese text from its pipes
    env.update(settings)
    return env


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """For in-process CLI tests: no bot setting from the developer's shell (set the ones meant after)."""
    for name in list(os.environ):
        if name.upper() in SETTINGS:
            monkeypatch.delenv(name)


def died(returncode: int | None, stderr: bytes | str) -> str:
    """An assertion message: how the child ended and the end of its stderr."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
    return f"`python -m bot` exited with {returncode}; the end of its stderr:\n{text[-3000:]}"


async def unless_it_dies(proc: asyncio.subprocess.Process, waiting: Awaitable[T]) -> T:
    """What `waiting` gives; fails at once, with the child's stderr, if the child exits first."""
    waiter = asyncio.ensure_future(waiting)
    exited = asyncio.ensure_future(proc.wait())
    await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
    if waiter.done():
        exited.cancel()
        return waiter.result()
    waiter.cancel()
    assert proc.stderr is not None
    pytest.fail(died(proc.returncode, await proc.stderr.read()))


ADMIN = 4999
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdef"
STARTUP_SECONDS = 60.0  # a cold interpreter imports aiogram (seconds on a busy machine), then migrates


def child_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The child's environment: a database in `tmp_path`, the admin, and `settings`; nothing else."""
    return bot_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", ADMIN_IDS=str(ADMIN), **settings)


async def start_bot(tmp_path: Path, api: FakeBotAPI) -> asyncio.subprocess.Process:
    """`python -m bot run` in `tmp_path`, long-polling the fake Bot API, its output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path,
        env=child_env(tmp_path, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def bind_code(invite: Call) -> str:
    """The code of an invitation reply ("… /bind CODE …")."""
    found = re.search(r"/bind (\w+)", invite.result["text"])
    assert found is not None, invite.result["text"]
    return found.group(1)


def write_catalog(path: Path) -> Path:
    rows = [product_row(f"YG-{i:03d}", f"云朵美白牙膏 {i}号", price=10 + i) for i in range(1, 4)]
    rows.append(product_row("SAFE-1", "<b>牙膏</b> & 牙刷", brand="A&B", merchant="M2"))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot ARGS` in `tmp_path` (no stray .env), with a timeout."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def reply_to(user: int, contains: str):
    def check(call: Call) -> bool:
        return (
            call.method.lower() == "sendmessage"
            and call.ok
            and call.params.get("chat_id") == user
            and contains in str((call.result or {}).get("text", ""))
        )

    return check


async def wait_reply(api: FakeBotAPI, proc: asyncio.subprocess.Process, predicate, seconds: float) -> Call:
    """The call `predicate` matches; fails at once with the bot's log if the bot dies first."""
    return await unless_it_dies(proc, api.wait_for(predicate, timeout=seconds))


def button(call: Call, word: str) -> str:
    """The callback data of the button whose label has `word`, in a sendMessage/sendPhoto/edit call."""
    markup = call.params.get("reply_markup") or {}
    for row in markup.get("inline_keyboard", []):
        for b in row:
            if word in b["text"]:
                return b["callback_data"]
    raise AssertionError(f"no {word!r} button in {markup}")


def sent_to(user: int, method: str, contains: str):
    def check(call: Call) -> bool:
        return (
            call.method.lower() == method
            and call.ok
            and call.params.get("chat_id") == user
            and contains in str(call.params.get("text") or call.params.get("caption") or "")
        )

    return check
