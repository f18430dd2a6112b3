"""Webhook mode: the bot registers its webhook with the secret and answers updates Telegram posts."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from pydantic import SecretStr

from bot.dispatcher import build_dispatcher
from bot.runtime import _run_webhook
from bot.services import Services, bot_defaults
from bot.settings import Settings, SettingsError
from tests.fakes import FakeBotAPI

SECRET = "a-webhook-secret-of-32-characters"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_registers_with_secret_and_answers_posted_updates(services: Services) -> None:
    port = _free_port()
    settings = services.settings.model_copy(
        update={
            "webhook_url": "https://bot.example.test/webhook",
            "webhook_secret": SecretStr(SECRET),
            "webhook_host": "127.0.0.1",
            "webhook_port": port,
        }
    )
    async with FakeBotAPI() as api:
        bot = api.make_bot(default=bot_defaults())
        dp = build_dispatcher(services)
        # One app: the webhook, the Mini App and the operator's endpoints all answer on WEBHOOK_PORT.
        server = asyncio.create_task(_run_webhook(bot, dp, settings, services, "123456:TEST"))
        try:
            registered = await api.wait_for("setWebhook", timeout=10)
            assert registered.params["url"] == "https://bot.example.test/webhook"
            assert registered.params["secret_token"] == SECRET

            update = api.message(4242, "/start")
            async with aiohttp.ClientSession() as http:
                url = f"http://127.0.0.1:{port}/webhook"
                forged = await http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}
                )
                assert forged.status == 401
                ok = await http.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                assert ok.status == 200
                assert (await http.get(f"http://127.0.0.1:{port}/app/")).status == 200
                assert (await http.get(f"http://127.0.0.1:{port}/app/api/me")).status == 401
                assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status == 200
            reply = await api.wait_for(
                lambda c: c.method == "sendMessage" and str(c.chat_id) == "4242", timeout=10
            )
            assert "选品助手" in reply.params["text"]
            assert len(api.sent(4242)) == 1, "the forged post was not handled"
        finally:
            server.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server
            await bot.session.close()


@pytest.mark.parametrize(
    "url, secret, message",
    [
        ("http://insecure.test/hook", SECRET, "https://"),
        ("https://ok.test/hook", None, "WEBHOOK_SECRET"),
        ("https://ok.test/hook", "short", "WEBHOOK_SECRET"),
    ],
)
def test_webhook_settings_are_checked(url: str, secret: str | None, message: str) -> None:
    settings = Settings(_env_file=None, webhook_url=url, webhook_secret=secret)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match=message):
        settings.require_webhook()
