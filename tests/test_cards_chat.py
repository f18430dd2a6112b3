"""Product cards in chat: the photo (with its fallbacks), paging back from a photo, the share button."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import InlineKeyboardMarkup

from bot.dispatcher import build_dispatcher
from bot.keyboards import PickCb
from bot.local_session import LocalSession
from bot.render import CAPTION_LIMIT, fits_caption, visible_length
from bot.services import build_bot
from handlers.replies import send_card
from handlers.search import SearchOpen, SearchPage
from tests.factories import import_rows, product_row
from tests.harness import buttons, plain

STREAMER = 1001
PHOTO = "https://img.example.com/xuanpin/dy-1.jpg"


@pytest.fixture
async def catalog(services):
    await import_rows(
        services,
        [
            product_row("DY-1", "戴森 Dyson 吹风机 HD15", brand="Dyson", category="家电", image_url=PHOTO),
            product_row("DY-2", "戴森 Dyson 吹风机 HD08", brand="Dyson", category="家电"),  # no photo
            product_row("OLD-1", "戴森 Dyson 吹风机 旧款", brand="Dyson", category="家电", grade="low"),
        ],
    )
    return services


def of(requests: list[Any], name: str) -> list[Any]:
    return [r for r in requests if any(c.__name__ == name for c in type(r).__mro__)]  # subclasses count


async def open_card(chat, services, sku: str, **press: Any) -> tuple[list[Any], str]:
    """Search "戴森" and press the number of `sku`; returns the requests and the results' page button."""
    results = of(await chat.message(STREAMER, "戴森 吹风机"), "SendMessage")[0]
    data = next(
        d for label, d in buttons(results) if d and d.startswith("so:") and _sku_of(results, label) == sku
    )
    return await chat.callback(STREAMER, data, **press), SearchOpen.unpack(data).q


def _sku_of(results: Any, label: str) -> str:
    line = next(line for line in plain(results.text).split("\n\n") if line.startswith(f"{label}. "))
    return next(word for word in line.split() if word.startswith(("DY-", "OLD-")))


async def test_a_card_with_a_photo_replaces_the_results_with_the_photo(chat, catalog) -> None:
    requests, key = await open_card(chat, catalog, "DY-1")
    [photo] = of(requests, "SendPhoto")
    assert photo.photo == PHOTO
    caption = plain(photo.caption)
    assert "戴森 Dyson 吹风机 HD15" in caption and "DY-1" in caption and "🔎 戴森 吹风机" in caption
    assert not of(requests, "EditMessageText")
    assert len(of(requests, "DeleteMessage")) == 1  # the results it stands in for
    labels = [label for label, _ in buttons(photo)]
    assert labels == ["« 返回结果", "📊 评分", "↗️ 分享", "📦 申请样品"]

    # « back from the photo: a photo cannot be edited into text, so the page comes anew, the photo goes
    back = dict(buttons(photo))["« 返回结果"]
    assert back == SearchPage(q=key, p=0).pack()
    requests = await chat.callback(STREAMER, back, caption=photo.caption)
    [page] = of(requests, "SendMessage")
    assert plain(page.text).startswith("🔎 戴森 吹风机") and "DY-1" in plain(page.text)
    assert not of(requests, "EditMessageText") and len(of(requests, "DeleteMessage")) == 1


async def test_a_card_without_a_photo_still_turns_in_place(chat, catalog) -> None:
    requests, _key = await open_card(chat, catalog, "DY-2")
    [card] = of(requests, "EditMessageText")
    assert "DY-2" in plain(card.text)
    assert not of(requests, "SendPhoto") and not of(requests, "DeleteMessage")


@pytest.mark.parametrize(
    "refusal",
    [
        "Bad Request: wrong file identifier/HTTP URL specified",
        "Bad Request: failed to get HTTP URL content",
    ],
)
async def test_a_refused_photo_falls_back_to_the_text_card_in_place(chat, catalog, refusal: str) -> None:
    results = of(await chat.message(STREAMER, "戴森 吹风机"), "SendMessage")[0]
    data = next(
        d for label, d in buttons(results) if d and d.startswith("so:") and _sku_of(results, label) == "DY-1"
    )
    chat.session.queue(ok=False, error_code=400, description=refusal)  # Telegram's answer to sendPhoto
    requests = await chat.callback(STREAMER, data)
    assert [type(r).__name__ for r in requests][:2] == ["SendPhoto", "EditMessageText"]
    card = of(requests, "EditMessageText")[0]
    assert "DY-1" in plain(card.text) and "↗️ 分享" in [label for label, _ in buttons(card)]
    assert not of(requests, "DeleteMessage"), "nothing is lost: the results message became the card"


async def test_the_query_is_read_back_from_a_photo_caption(chat, catalog) -> None:
    """After a restart (no memory of the query) the « back button of a photo card still works."""
    requests, key = await open_card(chat, catalog, "DY-1")
    [photo] = of(requests, "SendPhoto")
    stranger = 7007  # never searched: only the caption knows the query
    requests = await chat.callback(stranger, SearchPage(q=key, p=0).pack(), caption=photo.caption)
    assert "DY-1" in plain(of(requests, "SendMessage")[0].text)


async def test_a_photo_card_opened_from_a_photo_is_edited_as_media(chat, catalog) -> None:
    requests, key = await open_card(chat, catalog, "DY-1")
    [photo] = of(requests, "SendPhoto")
    requests = await chat.callback(STREAMER, _open_data(requests, key), caption=photo.caption)
    [edit] = of(requests, "EditMessageMedia")
    assert edit.media.media == PHOTO and "DY-1" in plain(edit.media.caption)
    assert not of(requests, "SendPhoto") and not of(requests, "DeleteMessage")


def _open_data(requests: list[Any], key: str) -> str:
    photo = of(requests, "SendPhoto")[0]
    grade_data = dict(buttons(photo))["📊 评分"]
    product_id = int(grade_data.split(":")[1])
    return SearchOpen(id=product_id, q=key, p=0).pack()


async def test_pick_detail_sends_the_photo_card_with_share(chat, catalog) -> None:
    from tests.test_search_chat import product_id

    pid = await product_id(catalog, "DY-1")
    requests = await chat.callback(STREAMER, PickCb(action="d", id=pid).pack())
    [photo] = of(requests, "SendPhoto")
    assert photo.photo == PHOTO and "DY-1" in plain(photo.caption)
    assert [label for label, _ in buttons(photo)] == ["📊 评分", "↗️ 分享", "📦 申请样品"]
    requests = await chat.callback(STREAMER, PickCb(action="d", id=await product_id(catalog, "DY-2")).pack())
    assert of(requests, "SendMessage") and not of(requests, "SendPhoto")


async def test_the_share_button_leads_to_inline_mode_with_the_sku(chat, catalog) -> None:
    requests, _key = await open_card(chat, catalog, "DY-1", lang="en")
    markup = of(requests, "SendPhoto")[0].reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    [share] = [b for row in markup.inline_keyboard for b in row if b.switch_inline_query is not None]
    assert share.text == "↗️ Share" and share.switch_inline_query == "DY-1"
    # what the chat picker then sends: `@bot DY-1` finds exactly that card, with its photo as thumbnail
    [answer] = of(await chat.inline(STREAMER, share.switch_inline_query), "AnswerInlineQuery")
    assert answer.results and answer.results[0].title == "戴森 Dyson 吹风机 HD15"
    assert answer.results[0].thumbnail_url == PHOTO


async def test_hidden_goods_get_no_share_button(chat, catalog) -> None:
    """Inline mode never lists L0 goods, so an admin's card of one offers no share."""
    from tests.conftest import ADMIN_ID
    from tests.test_search_chat import product_id

    requests = await chat.callback(ADMIN_ID, PickCb(action="d", id=await product_id(catalog, "OLD-1")).pack())
    labels = [label for r in requests for label, _ in buttons(r)]
    assert "📊 评分" in labels and "↗️ 分享" not in labels


async def test_a_card_too_long_for_a_caption_goes_as_text() -> None:
    session = LocalSession()
    bot = build_bot("42:TEST-TOKEN-FOR-THE-LOCAL-SESSION", session=session)
    long_card = "<b>" + "好" * (CAPTION_LIMIT - 10) + "</b> &amp; " + "x" * 20
    assert visible_length(long_card) == CAPTION_LIMIT - 10 + 3 + 20 and not fits_caption(long_card)
    await send_card(bot, 5, long_card, None, PHOTO)
    assert [type(r).__name__ for r in session.requests] == ["SendMessage"]
    await send_card(bot, 5, "<b>短</b> &amp; 🔥", None, PHOTO)
    assert type(session.requests[-1]).__name__ == "SendPhoto"
    assert visible_length("<b>短</b> &amp; 🔥") == 1 + 3 + 2  # an emoji is two UTF-16 units
    await bot.session.close()


async def test_a_search_card_opens_the_product_in_the_mini_app_when_there_is_one(chat, catalog) -> None:
    plain_card, _key = await open_card(chat, catalog, "DY-2")
    assert not _web_apps(of(plain_card, "EditMessageText")[0])  # no WEBAPP_URL: no Mini App button
    catalog.settings = catalog.settings.model_copy(update={"webapp_url": "https://shop.example.test/app/"})
    chat.dp = build_dispatcher(catalog)
    requests, _key = await open_card(chat, catalog, "DY-2")
    [card] = of(requests, "EditMessageText")
    [url] = _web_apps(card)
    assert url.startswith("https://shop.example.test/app/?product=")


def _web_apps(request: Any) -> list[str]:
    rows = request.reply_markup.inline_keyboard if request.reply_markup is not None else []
    return [b.web_app.url for row in rows for b in row if b.web_app is not None]
