"""Inline mode through the real dispatcher: ≤50 cards per answer, is_personal, paging with next_offset."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.inline import CACHE_SECONDS, INLINE_LIMIT, parse_offset
from tests.factories import import_rows, product_row
from tests.harness import assert_valid_html, plain

USER = 2001


def answer_of(requests: list[Any]) -> Any:
    [answer] = [r for r in requests if type(r).__name__ == "AnswerInlineQuery"]
    return answer


@pytest.fixture
async def big_catalog(services):
    """120 toothpastes, a title with HTML in it, and goods streamers must never see."""
    rows = [product_row(f"YG-{i:03d}", f"云朵美白牙膏 {i}号", price=10 + i) for i in range(1, 121)]
    rows += [
        product_row("SAFE-1", "<b>牙膏</b> & 牙刷 套装", brand="A&B <Co>", merchant="M2"),
        product_row("HIDE-L0", "牙膏 清仓旧款", merchant="M3", grade="low"),
        product_row("HIDE-FAKE", "牙膏 高仿", merchant="M4", counterfeit_flag=1),
    ]
    await import_rows(services, rows)
    return services


async def test_inline_answer_has_at_most_50_personal_cards_and_pages_on(chat, big_catalog):
    skus: list[str] = []
    offset = ""
    pages = 0
    while True:
        answer = answer_of(await chat.inline(USER, "牙膏", offset=offset))
        pages += 1
        assert answer.is_personal is True
        assert 0 < answer.cache_time <= 60 and answer.cache_time == CACHE_SECONDS
        assert len(answer.results) <= INLINE_LIMIT
        ids = [r.id for r in answer.results]
        assert len(ids) == len(set(ids)) and all(len(i.encode()) <= 64 for i in ids)
        skus += [
            plain(r.input_message_content.message_text).split("商品编号: ")[1].split("\n")[0]
            for r in answer.results
        ]
        if not answer.next_offset:
            break
        assert int(answer.next_offset) == len(skus)
        offset = answer.next_offset
    assert pages == 3
    assert len(skus) == len(set(skus)) == 121  # every visible match once, across the pages
    assert "HIDE-L0" not in skus and "HIDE-FAKE" not in skus


async def test_inline_card_is_the_html_product_card(chat, big_catalog):
    answer = answer_of(await chat.inline(USER, "牙刷 套装"))
    first = answer.results[0]
    assert first.type == "article"
    assert first.title == "<b>牙膏</b> & 牙刷 套装"  # titles are plain text: not escaped
    assert "L5 行业尖货" in first.description and "SAFE-1" in first.description
    content = first.input_message_content
    assert content.parse_mode == "HTML"
    assert_valid_html(content.message_text)
    assert "&lt;b&gt;牙膏&lt;/b&gt; &amp; 牙刷 套装" in content.message_text
    assert "A&amp;B &lt;Co&gt;" in content.message_text
    text = plain(content.message_text)
    for expected in (
        "商品编号: SAFE-1",
        "品牌: A&B <Co>",
        "价格: ¥59",
        "佣金: 30.0%",
        "分层: L5 行业尖货",
        "五维评分",
    ):
        assert expected in text


async def test_inline_english_user_gets_english_cards(chat, big_catalog):
    answer = answer_of(await chat.inline(USER, "yagao", lang="en"))
    assert "Top of the category" in answer.results[0].description
    assert "SKU:" in plain(answer.results[0].input_message_content.message_text)


async def test_inline_nothing_found_offers_a_button_to_the_bot(chat, big_catalog):
    # issue 11: nothing found is one article saying so and what to try, plus the button to the bot
    answer = answer_of(await chat.inline(USER, "完全不存在的东西 zzzzqqq"))
    assert [r.id for r in answer.results] == ["nothing"] and answer.next_offset == ""
    assert "完全不存在的东西" in answer.results[0].title
    assert answer.results[0].description.startswith("试试：")
    assert answer.button is not None and answer.button.start_parameter == "search"


async def test_inline_empty_query_lists_the_best_goods(chat, big_catalog):
    answer = answer_of(await chat.inline(USER, ""))
    assert 0 < len(answer.results) <= INLINE_LIMIT
    assert all(r.description.startswith(("L4", "L5")) for r in answer.results)
    assert answer.button is not None


@pytest.mark.parametrize("offset", ["abc", "-5", "9" * 40, "٣", "1e3", "50.5"])
async def test_inline_forged_offset_is_harmless(chat, big_catalog, offset):
    answer = answer_of(await chat.inline(USER, "牙膏", offset=offset))
    assert len(answer.results) <= INLINE_LIMIT


async def test_inline_5000_character_query_and_html(chat, big_catalog):
    answer = answer_of(await chat.inline(USER, "牙膏 <b>&" * 700))
    assert len(answer.results) <= INLINE_LIMIT
    for r in answer.results:
        assert_valid_html(r.input_message_content.message_text)


def test_parse_offset():
    assert parse_offset("") == 0 and parse_offset("50") == 50 and parse_offset("x") == 0
    assert parse_offset("٣") == 0 and parse_offset("9" * 40) == 0
