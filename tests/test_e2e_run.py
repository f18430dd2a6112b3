"""End to end: the real `python -m bot run` as a subprocess, polling the fake Bot API over HTTP.

The catalog goes in through the real CLI (`python -m bot import products`), then the bot runs,
answers /start and a search, and stops cleanly on SIGINT and on SIGTERM. A missing or malformed
BOT_TOKEN is a clear error and exit code 1.
"""

from __future__ import annotations

import asyncio
import csv
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import product_row
from tests.fakes.bot_api import Call, FakeBotAPI
from tests.processes import bot_env, died, unless_it_dies

USER = 4001
ADMIN = 4999
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdef"
STARTUP_SECONDS = 60.0  # a cold interpreter imports aiogram (seconds on a busy machine), then migrates


def child_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The child's environment: a database in `tmp_path`, the admin, and `settings`; nothing else."""
    return bot_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", ADMIN_IDS=str(ADMIN), **settings)


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


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    env = child_env(tmp_path)
    done = cli(tmp_path, env, "import", "products", str(write_catalog(tmp_path / "products.csv")))
    assert done.returncode == 0, died(done.returncode, done.stderr)
    return tmp_path


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_run_answers_start_and_a_search_then_stops_cleanly(seeded: Path, stop: signal.Signals):
    async with FakeBotAPI() as api:
        api.message(USER, "/start")
        api.message(USER, "牙膏")
        env = child_env(seeded, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=seeded,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await wait_reply(api, proc, reply_to(USER, "选品助手"), STARTUP_SECONDS)
            results = await wait_reply(api, proc, reply_to(USER, "🔎 牙膏"), 10)
            text = results.result["text"]
            assert "共 4 件" in text and "\n1. " in text and "<b>牙膏</b> & 牙刷" in text
            # the bot keeps polling: a second search is answered too
            api.message(USER, "yagao")
            await wait_reply(api, proc, reply_to(USER, "🔎 yagao"), 10)
            proc.send_signal(stop)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = stderr.decode(errors="replace")
        assert proc.returncode == 0, died(proc.returncode, log)
        assert "Traceback" not in log, died(proc.returncode, log)
        assert api.calls_to("getUpdates"), "it long-polled"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "BOT_TOKEN is not set"),
        ("not-a-token", "BOT_TOKEN is malformed"),
    ],
    ids=["missing", "malformed"],
)
def test_run_without_a_valid_token_exits_1_with_a_clear_message(
    tmp_path: Path, token: str | None, message: str
):
    # Nothing listens on that port: the bot must stop before it tries.
    env = child_env(tmp_path, TELEGRAM_API_URL="http://127.0.0.1:9")
    if token is not None:
        env["BOT_TOKEN"] = token
    done = cli(tmp_path, env, "run")
    assert done.returncode == 1, died(done.returncode, done.stderr)
    assert message in done.stderr, died(done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, died(done.returncode, done.stderr)


async def test_a_bot_that_dies_fails_the_wait_at_once_with_its_stderr(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        env = child_env(
            tmp_path, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url, DEFAULT_TIMEZONE="Mars/Olympus"
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            with pytest.raises(pytest.fail.Exception) as failed:
                await wait_reply(api, proc, reply_to(USER, "选品助手"), STARTUP_SECONDS)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "exited with 1" in str(failed.value) and "DEFAULT_TIMEZONE" in str(failed.value)
