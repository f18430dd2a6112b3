"""End to end: the real `python -m bot run` as a subprocess, polling the fake Bot API over HTTP.

The catalog goes in through the real CLI (`python -m bot import products`), then the bot runs,
answers /start and a search, and stops cleanly on SIGINT and on SIGTERM. A missing or malformed
BOT_TOKEN is a clear error and exit code 1.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from tests.fakes.bot_api import FakeBotAPI
from tests.processes import STARTUP_SECONDS, TOKEN, child_env, cli, died, reply_to, wait_reply, write_catalog

USER = 4001


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
