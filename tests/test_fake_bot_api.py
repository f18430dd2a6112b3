"""The fake Bot API server, driven by the real aiogram client over loopback HTTP."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultUnion,
    InputTextMessageContent,
    Message,
)

from tests.fakes import BOT_USERNAME, FakeBotAPI

TOKEN = "123456:TEST"


@pytest.fixture
async def api():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI):
    async with api.make_bot(TOKEN) as client:
        yield client


def keyboard(data: str = "pick:1") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="详情", callback_data=data)]])


async def test_base_url_is_loopback(api: FakeBotAPI) -> None:
    assert api.base_url.startswith("http://127.0.0.1:")
    assert int(api.base_url.rsplit(":", 1)[1]) > 0


async def test_get_me(bot: Bot, api: FakeBotAPI) -> None:
    me = await bot.get_me()
    assert me.username == BOT_USERNAME
    assert me.is_bot
    assert [c.method for c in api.calls] == ["getMe"]


async def test_send_message_is_answered_and_recorded(bot: Bot, api: FakeBotAPI) -> None:
    first = await bot.send_message(42, "<b>护肤</b> &amp; 彩妆", parse_mode="HTML", reply_markup=keyboard())
    second = await bot.send_message(43, "plain")

    # aiogram parsed a real Message: ids increase, chat comes from chat_id, the keyboard is echoed.
    assert second.message_id > first.message_id
    assert first.chat.id == 42 and first.chat.type == "private"
    assert first.text == "护肤 & 彩妆"  # what the user sees: tags gone, entities decoded
    assert first.reply_markup is not None
    assert first.reply_markup.inline_keyboard[0][0].callback_data == "pick:1"

    [call] = api.sent(chat_id=42)
    assert call.method == "sendMessage"
    assert call.params == {
        "chat_id": 42,
        "text": "<b>护肤</b> &amp; 彩妆",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "详情", "callback_data": "pick:1"}]]},
    }
    assert call.raw["chat_id"] == "42"  # as it went over the wire, form-encoded
    assert [c.params["text"] for c in api.sent()] == ["<b>护肤</b> &amp; 彩妆", "plain"]
    assert api.sent(chat_id=44) == []


async def test_text_fields_stay_strings(bot: Bot, api: FakeBotAPI) -> None:
    await bot.send_message(42, "123")
    await bot.send_message(42, "true")
    assert [c.params["text"] for c in api.sent(42)] == ["123", "true"]


async def test_send_photo_multipart_upload_is_recorded(bot: Bot, api: FakeBotAPI) -> None:
    image = b"\x89PNG\r\n\x1a\n fake image bytes"
    message = await bot.send_photo(
        42, BufferedInputFile(image, filename="card.png"), caption="<i>L5</i> 行业尖货", parse_mode="HTML"
    )
    [call] = api.sent(42)
    assert call.method == "sendPhoto"
    assert call.files["photo"].content == image
    assert call.files["photo"].filename == "card.png"
    assert call.params["photo"].startswith("attach://")
    assert message.caption == "L5 行业尖货"
    assert message.photo is not None and message.photo[-1].file_size == len(image)


async def test_send_document_upload_then_download(bot: Bot, api: FakeBotAPI) -> None:
    payload = "sku,title\nA1,牙膏\n".encode()
    message = await bot.send_document(7, BufferedInputFile(payload, filename="errors.csv"))
    assert api.sent(7)[0].files["document"].filename == "errors.csv"
    assert message.document is not None and message.document.file_name == "errors.csv"
    # What the bot uploaded can be fetched back like any Telegram file.
    downloaded = await bot.download(message.document.file_id)
    assert downloaded is not None and downloaded.read() == payload


async def test_get_file_and_download_registered_file(bot: Bot, api: FakeBotAPI) -> None:
    content = "sku,title\nA1,牙膏\n".encode("gb18030")
    api.add_file("DOC1", content, file_path="documents/products.csv")
    file = await bot.get_file("DOC1")
    assert file.file_path == "documents/products.csv" and file.file_size == len(content)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == content
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("NOPE")


async def test_unknown_method_is_a_404_error(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot{TOKEN}/sendTelepathy", data={"chat_id": "1"}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_get_updates_delivers_queued_updates_once(bot: Bot, api: FakeBotAPI) -> None:
    api.add_file("F1", b"sku\n")
    api.message(100, "/start", language_code="en", username="alice")
    sent = await bot.send_message(100, "card", reply_markup=keyboard("pick:9"))
    api.callback(100, "pick:9", message_id=sent.message_id)
    api.inline_query(101, "yagao", offset="10")
    api.document(102, "F1", "products.csv", caption="/import")

    updates = await bot.get_updates()
    assert [u.event_type for u in updates] == ["message", "callback_query", "inline_query", "message"]
    ids = [u.update_id for u in updates]
    assert ids == sorted(ids) and len(set(ids)) == 4

    start, press, inline, document = updates
    assert start.message is not None and start.message.text == "/start"
    assert start.message.from_user is not None and start.message.from_user.language_code == "en"
    assert start.message.from_user.username == "alice"
    assert start.message.entities is not None and start.message.entities[0].type == "bot_command"
    assert press.callback_query is not None and press.callback_query.data == "pick:9"
    assert press.callback_query.message is not None
    assert press.callback_query.message.message_id == sent.message_id
    assert inline.inline_query is not None and inline.inline_query.query == "yagao"
    assert inline.inline_query.offset == "10"
    assert document.message is not None and document.message.caption == "/import"
    assert document.message.document is not None and document.message.document.file_size == 4

    # Without confirming, the same updates come again; an offset confirms and drops them for good.
    assert [u.update_id for u in await bot.get_updates()] == ids
    assert await bot.get_updates(offset=ids[-1] + 1) == []
    assert await bot.get_updates() == []
    later = api.message(100, "牙膏")
    assert [u.update_id for u in await bot.get_updates(offset=ids[-1] + 1)] == [later["update_id"]]


async def test_long_poll_returns_when_an_update_arrives(bot: Bot, api: FakeBotAPI) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.sleep(0.1)
    assert not poll.done()
    queued = api.message(100, "hello")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert [u.update_id for u in updates] == [queued["update_id"]]


async def test_polling_dispatcher_end_to_end(api: FakeBotAPI) -> None:
    router = Router(name="echo")
    seen: list[str] = []

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        seen.append("start")
        await message.answer("欢迎", reply_markup=keyboard("pick:1"))

    @router.callback_query(F.data.startswith("pick:"))
    async def pick(query: CallbackQuery) -> None:
        seen.append(query.data or "")
        await query.answer("ok")

    @router.inline_query()
    async def inline(query: InlineQuery) -> None:
        result = InlineQueryResultArticle(
            id="A1", title="牙膏", input_message_content=InputTextMessageContent(message_text="牙膏")
        )
        await query.answer([result], is_personal=True)

    dp = Dispatcher()
    dp.include_router(router)
    bot = api.make_bot(TOKEN)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        api.message(555, "/start")
        reply = await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 555)
        assert reply.params["text"] == "欢迎"
        api.callback(555, "pick:1", message_id=reply.result["message_id"])
        answer = await api.wait_for("answerCallbackQuery")
        assert answer.params["text"] == "ok"
        api.inline_query(555, "yg")
        inline_answer = await api.wait_for("answerInlineQuery")
        assert inline_answer.params["results"][0]["id"] == "A1"
        assert inline_answer.params["is_personal"] is True
    finally:
        await dp.stop_polling()
        await polling
    assert seen == ["start", "pick:1"]  # each update handled exactly once


async def test_inline_answer_over_50_results_is_rejected(bot: Bot) -> None:
    results: list[InlineQueryResultUnion] = [
        InlineQueryResultArticle(
            id=str(i), title=str(i), input_message_content=InputTextMessageContent(message_text=str(i))
        )
        for i in range(51)
    ]
    with pytest.raises(TelegramBadRequest, match="RESULTS_TOO_MUCH"):
        await bot.answer_inline_query("1", results)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("price < 100", "Unsupported start tag"),
        ("<b>bold", "Can't find end tag"),
        ("<b>x</i>", "Unmatched end tag"),
        ("<p>x</p>", 'Unsupported start tag "p"'),
    ],
)
async def test_bad_html_is_rejected_like_telegram(bot: Bot, api: FakeBotAPI, text: str, error: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as info:
        await bot.send_message(42, text, parse_mode="HTML")
    assert error in info.value.message
    assert api.sent() == []
    await bot.send_message(42, text)  # without parse_mode the same text is fine


async def test_limits_on_length_and_callback_data(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "字" * 4097)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "x", reply_markup=keyboard("p" * 65))


async def test_edit_message(bot: Bot, api: FakeBotAPI) -> None:
    sent = await bot.send_message(42, "第一批", reply_markup=keyboard())
    edited = await bot.edit_message_text(text="第二批", chat_id=42, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "第二批" and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="第二批", chat_id=42, message_id=sent.message_id)
    markup = await bot.edit_message_reply_markup(
        chat_id=42, message_id=sent.message_id, reply_markup=keyboard()
    )
    assert isinstance(markup, Message) and markup.reply_markup is not None
    assert markup.reply_markup.inline_keyboard[0][0].text == "详情"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=42, message_id=99999)
    assert [c.method for c in api.calls if c.ok] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]


async def test_injected_429_403_400(bot: Bot, api: FakeBotAPI) -> None:
    api.fail("sendMessage", 429, retry_after=3, chat_id=1)
    api.fail("sendMessage", 403, chat_id=2)
    api.fail("sendMessage", 400, chat_id=3)
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(1, "x")
    assert flood.value.retry_after == 3
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(2, "x")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(3, "x")
    # Each fault was used once (times=1): the same calls now succeed.
    for chat in (1, 2, 3):
        await bot.send_message(chat, "again")
    assert [(c.chat_id, c.status, c.injected) for c in api.calls] == [
        (1, 429, True),
        (2, 403, True),
        (3, 400, True),
        (1, 200, False),
        (2, 200, False),
        (3, 200, False),
    ]
    assert api.injected_429s == 1 and api.injected_faults == 3 and api.organic_429s == 0


async def test_permanent_fault_and_method_targeting(bot: Bot, api: FakeBotAPI) -> None:
    fault = api.fail("sendPhoto", 403, times=None)
    for _ in range(3):
        with pytest.raises(TelegramForbiddenError):
            await bot.send_photo(9, "AgADphotoid")
    await bot.send_message(9, "text still works")
    assert fault.hits == 3 and len(api.sent(9)) == 1


async def test_502_comes_as_an_html_page(bot: Bot, api: FakeBotAPI) -> None:
    api.fail("sendMessage", 502)
    with pytest.raises(ClientDecodeError):  # aiogram cannot parse nginx's page as JSON
        await bot.send_message(1, "x")
    api.fail("sendMessage", 502)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{api.base_url}/bot{TOKEN}/sendMessage", data={"chat_id": "1", "text": "x"}
        ) as r:
            assert r.status == 502
            assert r.content_type == "text/html"
            assert "502 Bad Gateway" in await r.text()


async def test_dropped_connection(bot: Bot, api: FakeBotAPI) -> None:
    api.drop("sendMessage", times=1, chat_id=5)
    await bot.send_message(4, "other chats are not affected")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(5, "x")
    await bot.send_message(5, "x")
    assert [(c.chat_id, c.status) for c in api.calls] == [(4, 200), (5, 0), (5, 200)]


async def test_delayed_answer_lets_a_client_timeout_fire(bot: Bot, api: FakeBotAPI) -> None:
    api.delay("sendMessage", 1.5, chat_id=5)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await bot.send_message(5, "x", request_timeout=1)
    await api.wait_for(lambda c: c.chat_id == 5)
    assert api.calls[-1].status == 0 and api.sent() == []


async def test_conflict_while_webhook_is_set(bot: Bot) -> None:
    await bot.set_webhook("https://example.invalid/hook")
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_enforced_rate_limit_answers_organic_429() -> None:
    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as api, api.make_bot() as bot:
        await bot.send_message(1, "first")
        with pytest.raises(TelegramRetryAfter) as flood:
            await bot.send_message(1, "same chat, right away")
        assert flood.value.retry_after >= 1
        # Different chats are only held to the global pace (with its small burst tolerance).
        results = await asyncio.gather(
            *(bot.send_message(100 + i, "x") for i in range(40)), return_exceptions=True
        )
        floods = [r for r in results if isinstance(r, TelegramRetryAfter)]
        assert floods, "40 messages at once must exceed 30/s"
        assert api.organic_429s == 1 + len(floods)
        assert api.injected_429s == 0


async def test_wait_for_times_out_with_the_calls_seen(api: FakeBotAPI) -> None:
    with pytest.raises(TimeoutError, match="no matching call"):
        await api.wait_for("sendMessage", timeout=0.05)
