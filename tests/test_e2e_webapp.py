"""End to end: `python -m bot run` in polling mode with WEBAPP_URL set serves the Mini App on
WEBHOOK_PORT and points the menu button at it."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path

from aiohttp import ClientSession

from tests.fakes.bot_api import FakeBotAPI
from tests.processes import STARTUP_SECONDS, TOKEN, child_env
from tests.webapp_support import sign_init_data

WEBAPP_URL = "https://shop.example.test/app/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_polling_bot_serves_the_mini_app_and_sets_the_menu_button(tmp_path: Path):
    port = free_port()
    async with FakeBotAPI() as api:
        env = child_env(
            tmp_path,
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.base_url,
            WEBAPP_URL=WEBAPP_URL,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=str(port),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            call = await api.wait_for("setChatMenuButton", timeout=STARTUP_SECONDS)
            button = call.params["menu_button"]
            button = json.loads(button) if isinstance(button, str) else button
            assert button["type"] == "web_app" and button["web_app"]["url"] == WEBAPP_URL
            async with ClientSession() as client:
                for _ in range(100):  # the HTTP site starts right after the menu button
                    try:
                        async with client.get(f"http://127.0.0.1:{port}/app/") as page:
                            assert page.status == 200
                            break
                    except OSError:
                        await asyncio.sleep(0.1)
                url = f"http://127.0.0.1:{port}/app/api/me"
                async with client.get(url) as refused:
                    assert refused.status == 401
                headers = {"X-Telegram-Init-Data": sign_init_data(4001, token=TOKEN)}
                async with client.get(url, headers=headers) as me:
                    assert me.status == 200
                    assert (await me.json())["telegram_id"] == 4001
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = stderr.decode(errors="replace")
        assert proc.returncode == 0, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
