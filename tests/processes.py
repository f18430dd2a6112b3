"""`python -m bot` as a child process, with exactly the environment a test means.

The child gets PATH and HOME (to find programs and a home) and this checkout on PYTHONPATH, plus
the bot settings the test names; nothing else of the developer's shell reaches it. Run it in a
fresh folder (a `tmp_path`), so no `.env` is read either. When it dies unexpectedly, the failure
shows the end of its stderr.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from bot.settings import Settings

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
