"""End to end: the real dispatcher long-polls the fake Bot API over HTTP; a user searches, presses buttons."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.dispatcher import build_dispatcher
from bot.services import bot_defaults
from tests.factories import import_rows, product_row
from tests.fakes.bot_api import Call, FakeBotAPI

USER = 3001


@contextlib.asynccontextmanager
async def polling(api: FakeBotAPI, services) -> AsyncIterator[None]:
    """A fresh dispatcher (fresh memory) polling `api` until the block ends."""
    dp = build_dispatcher(services)
    async with api.make_bot(default=bot_defaults()) as bot:
        task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
        try:
            yield
        finally:
            await dp.stop_polling()
            await asyncio.wait_for(task, 10)


def markup_data(call: Call) -> dict[str, str]:
    markup = call.params.get("reply_markup") or {}
    return {
        b["text"]: b["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for b in row
        if "callback_data" in b
    }


def to_user(method: str, user: int = USER):
    def check(call: Call) -> bool:
        return (
            call.method.lower() == method.lower() and call.ok and str(call.params.get("chat_id")) == str(user)
        )

    return check


@pytest.fixture
async def catalog(services):
    rows = [product_row(f"YG-{i:03d}", f"云朵美白牙膏 {i}号", price=10 + i) for i in range(1, 8)]
    rows.append(product_row("SAFE-1", "<b>牙膏</b> & 牙刷", brand="A&B", merchant="M2"))
    await import_rows(services, rows)
    return services


async def test_search_then_open_a_card_then_page_over_http(catalog):
    async with FakeBotAPI() as api, polling(api, catalog):
        api.message(USER, "牙膏")
        reply = await api.wait_for(to_user("sendMessage"))
        text: Any = reply.result["text"]  # as Telegram parsed the HTML: escaping held
        assert text.startswith("🔎 牙膏") and "共 8 件 · 第 1/2 页" in text and "\n1. " in text
        buttons = markup_data(reply)
        assert list(buttons)[:5] == ["1", "2", "3", "4", "5"] and "下一页 ▶" in buttons

        message_id = reply.result["message_id"]
        api.callback(USER, buttons["1"], message_id=message_id)
        card = await api.wait_for(to_user("editMessageText"))
        assert card.params["message_id"] == message_id
        assert "商品编号:" in card.result["text"] and "五维评分" in card.result["text"]
        answered = await api.wait_for("answerCallbackQuery")
        assert answered.ok

        back = markup_data(card)["« 返回结果"]
        api.callback(USER, back, message_id=message_id)
        await api.wait_for(lambda c: to_user("editMessageText")(c) and c is not card)
        api.callback(USER, buttons["下一页 ▶"], message_id=message_id)
        page2 = await api.wait_for(
            lambda c: to_user("editMessageText")(c) and "第 2/2 页" in c.result["text"]
        )
        assert "\n6. " in page2.result["text"]

        api.message(USER, "<b>牙膏</b> & <i>")
        tricky = await api.wait_for(lambda c: to_user("sendMessage")(c) and c is not reply)
        assert tricky.result["text"].startswith("🔎 <b>牙膏</b> & <i>")


async def test_a_page_turns_after_a_restart_and_garbage_is_answered_politely(catalog):
    async with FakeBotAPI() as api:
        async with polling(api, catalog):
            api.message(USER, "牙膏")
            reply = await api.wait_for(to_user("sendMessage"))
        nxt = markup_data(reply)["下一页 ▶"]
        async with polling(api, catalog):  # a new process: the query is read back from the message
            api.callback(USER, nxt, message_id=reply.result["message_id"])
            page2 = await api.wait_for(to_user("editMessageText"))
            assert page2.result["text"].startswith("🔎 牙膏") and "第 2/2 页" in page2.result["text"]

            api.callback(USER, "so:not-a-number")
            polite = "这个按钮已失效，请重新搜索"
            answer = await api.wait_for(
                lambda c: c.method == "answerCallbackQuery" and c.params.get("text") == polite
            )
            assert answer.ok


async def test_inline_query_over_http(catalog):
    async with FakeBotAPI() as api, polling(api, catalog):
        api.inline_query(USER, "牙膏")
        call = await api.wait_for("answerInlineQuery")
        assert call.ok, call  # the strict fake accepted it: ≤50 results, unique ids
        assert call.params["is_personal"] is True
        assert 0 < len(call.params["results"]) <= 50
        assert call.params["results"][0]["input_message_content"]["parse_mode"] == "HTML"
