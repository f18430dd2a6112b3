"""The JSON session (bot/session.py): what reaches the Bot API is what aiogram's form would have said."""

from __future__ import annotations

import json

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import AnswerInlineQuery, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
)

from bot.services import build_bot
from bot.session import JsonSession, SendMessageForIds, SentIds
from tests.fakes import FakeBotAPI

MARKUP = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="详情 1", callback_data="pk:d:7:0")]]
)


async def test_a_message_goes_as_json_with_the_defaults_filled_in_and_nothing_empty() -> None:
    async with FakeBotAPI() as api:
        bot = build_bot("123456:TEST", api_url=api.base_url)
        try:
            assert isinstance(bot.session, JsonSession)
            method = SendMessage(chat_id=7, text="防晒霜 <b>L5</b>", reply_markup=MARKUP)
            body = bot.session.json_body(bot, method)
            assert body is not None and "防晒霜".encode() in body  # not \\u-escaped: a third of the bytes
            message = await bot.send_message(7, "防晒霜 <b>L5</b>", reply_markup=MARKUP)
        finally:
            await bot.session.close()
    (call,) = api.calls_to("sendMessage")
    assert call.status == 200 and message.text == "防晒霜 L5"  # the fake server parsed the HTML
    assert call.params["chat_id"] == 7
    assert call.params["text"] == "防晒霜 <b>L5</b>"
    assert call.params["parse_mode"] == "HTML"  # the bot's default, resolved
    assert call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "详情 1", "callback_data": "pk:d:7:0"}]]
    }
    assert not any(value is None for value in call.params.values())


async def test_a_file_upload_falls_back_to_the_multipart_form() -> None:
    photo = BufferedInputFile(b"\x89PNG fake", filename="chart.png")
    async with FakeBotAPI() as api:
        bot = build_bot("123456:TEST", api_url=api.base_url)
        try:
            assert isinstance(bot.session, JsonSession)
            assert bot.session.json_body(bot, SendPhoto(chat_id=7, photo=photo)) is None
            await bot.send_photo(7, photo, caption="雷达图")
        finally:
            await bot.session.close()
    (call,) = api.calls_to("sendPhoto")
    assert call.status == 200
    assert call.files["photo"].content == b"\x89PNG fake"
    assert call.params["caption"] == "雷达图"


METHODS = [
    SendMessage(chat_id=7, text="牙膏", reply_markup=MARKUP, disable_notification=False),
    # defaults one level down, as the digest sends them
    SendMessage(chat_id=7, text="选品", link_preview_options=LinkPreviewOptions(is_disabled=True)),
    # defaults deeper down (the slow path): an inline answer's message content
    AnswerInlineQuery(
        inline_query_id="1",
        results=[
            InlineQueryResultArticle(
                id="a", title="防晒霜", input_message_content=InputTextMessageContent(message_text="L5")
            )
        ],
        is_personal=True,
    ),
]


@pytest.mark.parametrize("method", METHODS, ids=["keyboard", "link-preview", "inline-answer"])
async def test_json_says_what_aiograms_form_would_for_every_field(method: TelegramMethod) -> None:
    session = JsonSession()
    bot = Bot("123456:TEST", session=session, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        body = json.loads(session.json_body(bot, method) or b"{}")
        fields = session.build_form_data(bot, method)._fields
        form = {options["name"]: value for options, _headers, value in fields}
    finally:
        await session.close()
    assert set(body) == set(form)
    for key, value in body.items():
        assert value == (form[key] if isinstance(value, str) else json.loads(form[key])), key


async def test_a_broadcast_reads_back_only_the_id_and_still_raises_telegrams_errors() -> None:
    async with FakeBotAPI() as api:
        bot = build_bot("123456:TEST", api_url=api.base_url)
        try:
            sent = await bot(SendMessageForIds(chat_id=7, text="今日选品", reply_markup=MARKUP))
            api.fail("sendMessage", 403, chat_id=8)
            with pytest.raises(TelegramForbiddenError):
                await bot(SendMessageForIds(chat_id=8, text="今日选品"))
        finally:
            await bot.session.close()
    first = api.calls_to("sendMessage")[0]
    assert isinstance(sent, SentIds) and sent.message_id == first.result["message_id"]
    assert first.params["reply_markup"] == MARKUP.model_dump(exclude_none=True)  # sent whole all the same
