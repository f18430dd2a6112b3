"""Search in chat, through the real dispatcher: results, paging, the card, suggestions, forged buttons."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH

from handlers.search import (
    PAGE_SIZE,
    RecentQueries,
    SearchOpen,
    SearchPage,
    SearchSuggest,
    clean_query,
    query_key,
)
from tests.conftest import ADMIN_ID
from tests.factories import import_rows, product_row
from tests.harness import assert_valid_html, buttons, plain

STREAMER = 1001
OTHER = 1002


def catalog_rows() -> list[dict[str, Any]]:
    rows = [product_row(f"YG-{i:03d}", f"云朵美白牙膏 {i}号 薄荷味", price=20 + i) for i in range(1, 13)]
    rows += [
        product_row(
            "SAFE-1",
            "<b>特浓</b> & 咖啡豆 <script>",
            brand="Tom & Jerry's <Co>",
            category="食品",
            merchant="M2",
            price=88,
        ),
        product_row(
            "DY-1", "戴森 Dyson 吸尘器 V12", brand="Dyson", category="家电", merchant="M3", price=3999
        ),
        product_row(
            "HIDE-L0", "隐形眼镜护理液 旧款", brand="清亮", category="眼护", merchant="M4", grade="low"
        ),
        product_row(
            "HIDE-FAKE",
            "隐形眼镜护理液 高仿",
            brand="清亮",
            category="眼护",
            merchant="M5",
            counterfeit_flag=1,
        ),
        product_row(
            "EN-1",
            "Organic Green Tea 绿茶",
            brand="TeaCo",
            category="茶饮",
            merchant="M2",
            price=45,
            grade="mid",
        ),
    ]
    return rows


async def load(services, rows: list[dict[str, Any]] | None = None) -> None:
    await import_rows(services, rows if rows is not None else catalog_rows())


async def product_id(services, sku: str) -> int:
    from storage.catalog import get_product

    async with services.sessionmaker() as session:
        record = await get_product(sku, session=session)
    assert record is not None
    return record.item.id


def sent(requests: list[Any], name: str = "SendMessage") -> list[Any]:
    return [r for r in requests if any(c.__name__ == name for c in type(r).__mro__)]  # subclasses count


def answers(requests: list[Any]) -> list[Any]:
    return sent(requests, "AnswerCallbackQuery")


def all_callback_data(request: Any) -> list[str]:
    return [data for _, data in buttons(request) if data is not None]


@pytest.fixture
async def catalog(services):
    await load(services)
    return services


# --------------------------------------------------------------------------- search and paging


async def test_plain_text_in_private_chat_is_a_search_with_numbered_buttons(chat, catalog):
    requests = await chat.message(STREAMER, "牙膏")
    [reply] = sent(requests)
    text = plain(reply.text)
    assert text.startswith("🔎 牙膏")
    assert "共 12 件 · 第 1/3 页" in text
    for n in range(1, PAGE_SIZE + 1):
        assert f"\n{n}. 云朵美白牙膏" in text
    assert "L5 行业尖货" in text and "佣金 30.0%" in text and "YG-0" in text and "精选好物" in text
    labels = [label for label, _ in buttons(reply)]
    assert labels[:5] == ["1", "2", "3", "4", "5"]
    assert labels[5:] == ["下一页 ▶"]
    for data in all_callback_data(reply):
        assert len(data.encode()) <= MAX_CALLBACK_LENGTH


async def test_paging_forward_and_back_edits_the_message(chat, catalog):
    first = sent(await chat.message(STREAMER, "牙膏"))[0]
    next_data = dict(buttons(first))["下一页 ▶"]
    requests = await chat.callback(STREAMER, next_data)
    [edit] = sent(requests, "EditMessageText")
    text = plain(edit.text)
    assert "第 2/3 页" in text and "\n6. " in text and "\n10. " in text and "\n1. " not in text
    labels = [label for label, _ in buttons(edit)]
    assert labels == ["6", "7", "8", "9", "10", "◀ 上一页", "下一页 ▶"]
    assert answers(requests), "the button press is answered (the spinner stops)"

    last = await chat.callback(STREAMER, dict(buttons(edit))["下一页 ▶"])
    [edit3] = sent(last, "EditMessageText")
    page3 = plain(edit3.text)
    assert "第 3/3 页" in page3 and "\n11. " in page3 and "\n12. " in page3
    assert [label for label, _ in buttons(edit3)] == ["11", "12", "◀ 上一页"]

    back = await chat.callback(STREAMER, dict(buttons(edit3))["◀ 上一页"])
    assert "第 2/3 页" in plain(sent(back, "EditMessageText")[0].text)


async def test_every_result_is_distinct_across_pages(chat, catalog):
    seen: list[str] = []
    reply = sent(await chat.message(STREAMER, "牙膏"))[0]
    while True:
        seen += re.findall(r"YG-\d{3}", plain(reply.text))
        nxt = dict(buttons(reply)).get("下一页 ▶")
        if nxt is None:
            break
        reply = sent(await chat.callback(STREAMER, nxt), "EditMessageText")[0]
    assert sorted(seen) == [f"YG-{i:03d}" for i in range(1, 13)]


async def test_number_button_opens_the_card_and_back_returns_to_the_page(chat, catalog):
    reply = sent(await chat.message(STREAMER, "戴森"))[0]
    assert "戴森 Dyson 吸尘器 V12" in plain(reply.text)
    requests = await chat.callback(STREAMER, dict(buttons(reply))["1"])
    [card] = sent(requests, "EditMessageText")
    text = plain(card.text)
    for expected in (
        "戴森 Dyson 吸尘器 V12",
        "商品编号: DY-1",
        "品牌: Dyson",
        "类目: 家电",
        "价格: ¥3,999",
        "佣金: 30.0%",
        "分层: L5 行业尖货",
        "精选好物",
        "五维评分",
        "品牌力",
        "价格力",
        "分销力",
        "服务力",
        "销售力",
    ):
        assert expected in text, expected
    assert "退款率" not in text, "raw indicators are not for streamers"
    labels = [label for label, _ in buttons(card)]
    assert labels == ["« 返回结果", "📊 评分", "↗️ 分享", "📦 申请样品"]  # grade: chart
    back = sent(await chat.callback(STREAMER, buttons(card)[0][1]), "EditMessageText")[0]
    assert plain(back.text).startswith("🔎 戴森") and "1. 戴森 Dyson 吸尘器 V12" in plain(back.text)


async def test_html_in_query_and_catalog_is_escaped(chat, catalog):
    requests = await chat.message(STREAMER, "<b>特浓</b> & 咖啡豆")
    [reply] = sent(requests)
    assert_valid_html(reply.text)
    assert "&lt;b&gt;特浓&lt;/b&gt; &amp; 咖啡豆" in reply.text  # the query as typed, escaped
    assert "&lt;script&gt;" in reply.text and "<script>" not in reply.text
    assert "<b>特浓</b> & 咖啡豆 <script>" in plain(reply.text)
    card = sent(await chat.callback(STREAMER, dict(buttons(reply))["1"]), "EditMessageText")[0]
    assert_valid_html(card.text)
    assert "Tom &amp; Jerry's &lt;Co&gt;" in card.text


async def test_a_5000_character_query_gets_a_short_valid_answer(chat, catalog):
    query = "牙膏" + "&<b>" * 1250
    requests = await chat.message(STREAMER, query)
    replies = sent(requests)
    assert replies and all(len(r.text) <= 4096 for r in replies)
    for r in replies:
        assert_valid_html(r.text)
    for data in (d for r in replies for d in all_callback_data(r)):
        assert len(data.encode()) <= MAX_CALLBACK_LENGTH


async def test_empty_search_command_gives_usage(chat, catalog):
    for text in ("/search", "/search    "):
        [reply] = sent(await chat.message(STREAMER, text))
        assert "用法：/search 关键词" in reply.text
        assert not buttons(reply)


async def test_emoji_query_is_answered_politely(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "🦷🪥✨"))
    text = plain(reply.text)
    assert text.startswith("🔎 🦷🪥✨")
    assert "没有找到相关商品" in text
    # emoji beside words still finds them
    [reply] = sent(await chat.message(STREAMER, "🪥 牙膏 ✨"))
    assert "1. 云朵美白牙膏" in plain(reply.text)


async def test_nothing_found_offers_brands_or_categories_that_run_a_search(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "dysen"))  # close to a brand, matches no word
    text = plain(reply.text)
    if "没有找到相关商品" not in text:  # the engine's typo tolerance found it: fine, nothing to suggest
        assert "戴森" in text
        return
    assert "你是不是要找：" in text
    suggestions = buttons(reply)
    assert suggestions and all(data.startswith("sg:") for _, data in suggestions)
    label, data = suggestions[0]
    [edit] = sent(await chat.callback(STREAMER, data), "EditMessageText")
    assert plain(edit.text).startswith(f"🔎 {label}")


async def test_suggestion_buttons_run_that_search(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "完全不存在的东西"))
    text = plain(reply.text)
    assert "没有找到相关商品" in text and "你是不是要找：" in text
    for label, data in buttons(reply):
        assert data is not None and data.startswith("sg:")
        [edit] = sent(await chat.callback(STREAMER, data), "EditMessageText")
        assert plain(edit.text).startswith(f"🔎 {label}")
        assert "\n1. " in plain(edit.text), f"suggestion {label} finds something"


async def test_filters_ride_in_the_query(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "牙膏 <25"))
    text = plain(reply.text)
    assert "筛选：¥25 以下" in text
    prices = [float(p.replace(",", "")) for p in re.findall(r"· ¥([\d,.]+) ·", text)]
    assert prices and all(p <= 25 for p in prices)


async def test_english_user_gets_english(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "toothpaste yagao", lang="en"))
    text = plain(reply.text)
    assert "found · page 1/3" in text and "Top of the category" in text and "commission 30.0%" in text
    assert [label for label, _ in buttons(reply)][-1] == "Next ▶"
    card = sent(await chat.callback(STREAMER, dict(buttons(reply))["1"], lang="en"), "EditMessageText")[0]
    assert "Brand:" in plain(card.text) and "Five dimensions" in plain(card.text)
    assert buttons(card)[0][0] == "« Back to results"
    [usage] = sent(await chat.message(STREAMER, "/search", lang="en"))
    assert "Usage: /search QUERY" in usage.text


# --------------------------------------------------------------------------- groups


async def test_search_command_works_in_groups_and_plain_text_there_does_not(chat, catalog):
    group = -100123
    assert sent(await chat.message(STREAMER, "牙膏", chat_type="supergroup", chat_id=group)) == []
    [reply] = sent(await chat.message(STREAMER, "/search 牙膏", chat_type="supergroup", chat_id=group))
    assert reply.chat_id == group
    assert "1. 云朵美白牙膏" in plain(reply.text)
    [usage] = sent(await chat.message(STREAMER, "/search", chat_type="group", chat_id=group))
    assert "用法" in usage.text


async def test_search_command_addressed_to_this_bot_or_another(chat, catalog):
    group = -100124
    mine = sent(
        await chat.message(STREAMER, "/search@xuanpin_demo_bot 牙膏", chat_type="group", chat_id=group)
    )
    assert mine and "1. 云朵美白牙膏" in plain(mine[0].text)
    theirs = sent(await chat.message(STREAMER, "/search@other_bot 牙膏", chat_type="group", chat_id=group))
    assert not any(plain(r.text).startswith("🔎") for r in theirs), "a command for another bot is not ours"


async def test_a_card_shared_through_inline_mode_is_not_searched(chat, catalog):
    from aiogram.types import Chat, Message, Update, User

    from tests.harness import BOT

    message = Message(
        message_id=99,
        date=0,
        chat=Chat(id=STREAMER, type="private"),
        from_user=User(id=STREAMER, is_bot=False, first_name="u"),
        via_bot=BOT,
        text="云朵美白牙膏 1号 薄荷味\n商品编号: YG-001",
    )
    before = len(chat.session.requests)
    await chat.dp.feed_update(chat.bot, Update(update_id=999, message=message))
    assert sent(chat.session.requests[before:]) == []


async def test_search_command_in_private_chat_too(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "/search yagao"))
    assert "1. 云朵美白牙膏" in plain(reply.text)


# --------------------------------------------------------------------------- hidden goods


async def test_l0_and_counterfeit_never_show_to_streamers(chat, catalog):
    [reply] = sent(await chat.message(STREAMER, "隐形眼镜护理液"))
    text = plain(reply.text)
    assert "HIDE-L0" not in text and "HIDE-FAKE" not in text
    assert "没有找到相关商品" in text


async def test_forged_open_of_a_hidden_product_is_refused(chat, catalog):
    for sku in ("HIDE-L0", "HIDE-FAKE"):
        pid = await product_id(catalog, sku)
        data = SearchOpen(id=pid, q=query_key("隐形眼镜"), p=0).pack()
        requests = await chat.callback(STREAMER, data)
        assert not sent(requests, "EditMessageText") and not sent(requests)
        [answer] = answers(requests)
        assert answer.text == "这个商品已下架或暂不可见"


async def test_admin_sees_hidden_goods_marked_and_may_open_them(chat, catalog):
    [reply] = sent(await chat.message(ADMIN_ID, "隐形眼镜护理液"))
    text = plain(reply.text)
    assert "HIDE-L0" in text and "HIDE-FAKE" in text and "🚫 对主播隐藏" in text
    pid = await product_id(catalog, "HIDE-FAKE")
    requests = await chat.callback(ADMIN_ID, SearchOpen(id=pid, q="x", p=0).pack())
    [card] = sent(requests, "EditMessageText")
    assert "HIDE-FAKE" in plain(card.text)
    assert any(data and data.startswith("gr:") for _, data in buttons(card)), "admins get the grade button"


async def bind_merchant(services, telegram_id: int, sku: str) -> None:
    """Make `telegram_id` the merchant that owns `sku`."""
    from storage.catalog import get_product
    from storage.tables import User

    async with services.sessionmaker() as session:
        record = await get_product(sku, session=session)
        assert record is not None
        session.add(User(telegram_id=telegram_id, merchant_id=record.merchant_id, name="m"))
        await session.commit()


async def test_a_hidden_product_opens_for_its_own_merchant_only(chat, catalog):
    owner, stranger = 5001, 5002
    await bind_merchant(catalog, owner, "HIDE-FAKE")
    await bind_merchant(catalog, stranger, "DY-1")
    data = SearchOpen(id=await product_id(catalog, "HIDE-FAKE"), q="AAAAAAAA", p=0).pack()

    [card] = sent(await chat.callback(owner, data), "EditMessageText")
    assert "HIDE-FAKE" in plain(card.text)
    assert any(d and d.startswith("gr:") for _, d in buttons(card)), "the owner gets the grade button"
    assert not any(d and d.startswith("sm:") for _, d in buttons(card)), (
        "but no sample button for their own goods"
    )

    requests = await chat.callback(stranger, data)
    assert not sent(requests, "EditMessageText")
    assert answers(requests)[0].text == "这个商品已下架或暂不可见"
    # a streamer's card of a visible product offers the public grade card (with the radar chart)
    [card] = sent(
        await chat.callback(STREAMER, SearchOpen(id=await product_id(catalog, "DY-1"), q="A", p=0).pack()),
        "EditMessageText",
    )
    assert [label for label, _ in buttons(card)] == ["📊 评分", "↗️ 分享", "📦 申请样品"]


# --------------------------------------------------------------------------- forged and stale buttons


@pytest.mark.parametrize(
    "data",
    [
        "so:999999:AAAAAAAA:0",  # no such product
        "so:99999999999999999999999:AAAAAAAA:0",  # beyond any id
        "so:-1:AAAAAAAA:0",
        "so:abc:AAAAAAAA:0",  # not a number
        "so:1",  # too few parts
        "sp:AAAAAAAA:1:2:3",  # too many parts
        "sp:AAAAAAAA:x",
        "sg:AAAAAAAA:not-a-number",
        "garbage",
        "",
        "::::",
        "zz:" + "9" * 60,  # a prefix nobody owns
    ],
)
async def test_forged_or_malformed_callback_gets_a_polite_answer(chat, catalog, data):
    requests = await chat.callback(STREAMER, data or " ")
    [answer] = answers(requests)
    assert answer.text in ("这个商品已下架或暂不可见", "这个按钮已失效，请重新搜索", "搜索已过期，请重新搜索")
    assert "出了点问题" not in (answer.text or ""), "not the internal-error answer"
    assert not sent(requests) and not sent(requests, "EditMessageText")


async def test_stale_page_whose_query_is_gone_says_search_expired(chat, catalog):
    requests = await chat.callback(STREAMER, SearchPage(q=query_key("never searched"), p=1).pack())
    [answer] = answers(requests)
    assert answer.text == "搜索已过期，请重新搜索"
    requests = await chat.callback(STREAMER, SearchSuggest(q=query_key("never searched"), i=0).pack())
    assert answers(requests)[0].text == "搜索已过期，请重新搜索"


async def test_another_users_page_button_does_not_leak_their_query(chat, catalog):
    reply = sent(await chat.message(STREAMER, "牙膏"))[0]
    requests = await chat.callback(OTHER, dict(buttons(reply))["下一页 ▶"])
    assert answers(requests)[0].text == "搜索已过期，请重新搜索"


async def test_a_card_button_works_even_when_the_query_is_forgotten(chat, catalog):
    pid = await product_id(catalog, "DY-1")
    requests = await chat.callback(OTHER, SearchOpen(id=pid, q="AAAAAAAA", p=0).pack())
    [card] = sent(requests, "EditMessageText")
    assert "DY-1" in plain(card.text)
    labels = [label for label, _ in buttons(card)]
    assert labels == ["📊 评分", "↗️ 分享", "📦 申请样品"], "no way back to an unknown search"


async def test_forged_huge_page_shows_the_last_page(chat, catalog):
    await chat.message(STREAMER, "牙膏")
    requests = await chat.callback(STREAMER, SearchPage(q=query_key("牙膏"), p=10**12).pack())
    [edit] = sent(requests, "EditMessageText")
    assert "第 3/3 页" in plain(edit.text)


async def test_page_survives_a_restart_by_reading_the_query_back_from_the_message(services, catalog):
    """A new dispatcher has no memory of the query; the message's `🔎 query` line brings it back."""
    from aiogram.types import CallbackQuery, Chat, Message, Update, User

    from tests.harness import BOT, ChatHarness

    first = ChatHarness(services)
    reply = sent(await first.message(STREAMER, "牙  膏 <b>"))[0]
    await first.close()
    data = dict(buttons(reply))  # no results for "<b>" alone? the query keeps its words
    page_data = data.get("下一页 ▶") or next(iter(data.values()))

    second = ChatHarness(services)
    try:
        message = Message(
            message_id=7,
            date=0,
            chat=Chat(id=STREAMER, type="private"),
            from_user=BOT,
            text=plain(reply.text),
        )
        query = CallbackQuery(
            id="1",
            from_user=User(id=STREAMER, is_bot=False, first_name="u"),
            chat_instance="c",
            message=message,
            data=page_data,
        )
        await second.dp.feed_update(second.bot, Update(update_id=1, callback_query=query))
        edits = second.session.of("EditMessageText")
        assert edits, [type(r).__name__ for r in second.session.requests]
        assert plain(edits[0].text).startswith("🔎 牙 膏 <b>")
    finally:
        await second.close()


async def test_same_page_pressed_twice_is_not_an_error(chat, catalog):
    reply = sent(await chat.message(STREAMER, "牙膏"))[0]
    nxt = dict(buttons(reply))["下一页 ▶"]
    chat.session.queue(
        ok=False,
        error_code=400,
        description="Bad Request: message is not modified: "
        "specified new message content and reply markup are exactly the same",
    )
    requests = await chat.callback(STREAMER, nxt)
    assert answers(requests) and answers(requests)[0].text is None


async def test_an_uneditable_message_gets_the_page_as_a_new_message(chat, catalog):
    reply = sent(await chat.message(STREAMER, "牙膏"))[0]
    nxt = dict(buttons(reply))["下一页 ▶"]
    chat.session.queue(ok=False, error_code=400, description="Bad Request: message can't be edited")
    requests = await chat.callback(STREAMER, nxt)
    [new] = sent(requests)
    assert "第 2/3 页" in plain(new.text)


# --------------------------------------------------------------------------- the pieces


def test_query_keys_are_short_and_callback_data_fits():
    key = query_key("牙膏" * 100)
    assert len(key) == 8 and ":" not in key
    assert len(SearchOpen(id=2**31 - 1, q=key, p=1000).pack().encode()) <= MAX_CALLBACK_LENGTH


def test_clean_query_collapses_whitespace_and_cuts():
    assert clean_query("  牙\n膏\t L4+ ") == "牙 膏 L4+"
    assert clean_query(None) == ""
    assert len(clean_query("x" * 5000)) == 200


def test_recent_queries_are_bounded_per_user_and_in_users():
    recent = RecentQueries(per_user=2, users=2)
    k1 = recent.remember(1, "a")
    recent.remember(1, "b")
    recent.remember(1, "c")
    assert recent.recall(1, k1) is None and recent.recall(1, query_key("c")) == "c"
    recent.remember(2, "x")
    recent.remember(3, "y")
    assert recent.recall(1, query_key("c")) is None  # user 1 was least recently used
    assert recent.recall(3, query_key("y")) == "y"


@pytest.mark.parametrize("query", ["牙膏", "dyson 吹风机 L4+", "a:b", ""])
def test_the_quick_payloads_are_what_the_factories_pack(query: str) -> None:
    key = query_key(query)
    for product_id, page in ((1, 0), (2**31 - 1, 1000)):
        packed = SearchOpen.data(product_id, key, page)
        assert packed == SearchOpen(id=product_id, q=key, p=page).pack()
        assert SearchOpen.unpack(packed) == SearchOpen(id=product_id, q=key, p=page)
        assert SearchPage.data(key, page) == SearchPage(q=key, p=page).pack()
