"""Picks in chat, through the real dispatcher: /picks and its buttons, /categories, /digest, /tz, /watch."""

from __future__ import annotations

import re

from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, EditMessageText, SendMessage
from sqlmodel import select

from core.schedule import resolve_zone
from handlers.picks import CategoryCb, PickCb, WatchCb
from storage.tables import Category, NotInterested, PickSent, User, Watch, WatchState
from tests.factories import bind_merchant
from tests.harness import buttons, texts
from tests.test_digest_helpers import platform_with_peers, put_product, put_sales, put_user

ME = 4242


async def _platform(services, *, sales: dict[str, float] | None = None) -> None:
    async with services.sessionmaker() as session:
        await platform_with_peers(session)
        if sales is not None:
            await put_sales(session, ME, sales)
        await session.commit()


def _sent(requests) -> list[SendMessage]:
    return [r for r in requests if isinstance(r, SendMessage)]


def _skus(text: str) -> list[str]:
    return re.findall(r"<code>([^<]+)</code>", text)


async def test_picks_show_sku_reason_and_the_three_buttons(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 100_000})
    [reply] = _sent(await chat.message(ME, "/picks"))
    assert _skus(reply.text) == ["FOOD-L5-A", "HOME-L5-A", "FOOD-L5-B", "HOME-L5-B"]
    assert "商品编号" in reply.text and "食品饮料: 你 0%, 同类主播 30%" in reply.text
    labels = [text for text, _data in buttons(reply)]
    assert labels.count("1. 详情") == 1 and labels.count("4. 不感兴趣") == 1 and labels[-1] == "🔄 换一批"
    assert all(len(data.encode()) <= 64 for _text, data in buttons(reply) if data)
    # Shown picks are remembered for the 14-day rule (and once per day only).
    await chat.message(ME, "/picks")
    async with services.sessionmaker() as session:
        rows = (await session.exec(select(PickSent.sku).where(PickSent.telegram_id == ME))).all()
    assert sorted(rows) == ["FOOD-L5-A", "FOOD-L5-B", "HOME-L5-A", "HOME-L5-B"]


async def test_english_users_get_english(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 100_000})
    [reply] = _sent(await chat.message(ME, "/picks", lang="en"))
    assert "Today's picks" in reply.text and "SKU <code>FOOD-L5-A</code>" in reply.text
    assert [t for t, _ in buttons(reply)][-1] == "🔄 More picks"


async def test_details_opens_the_card_with_the_sku(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 100_000})
    [reply] = _sent(await chat.message(ME, "/picks"))
    detail = next(data for text, data in buttons(reply) if text == "1. 详情")
    requests = await chat.callback(ME, detail)
    [card] = _sent(requests)
    assert "FOOD-L5-A" in card.text and card.chat_id == ME
    assert any(isinstance(r, AnswerCallbackQuery) for r in requests)


async def test_details_of_a_hidden_product_shows_nothing(chat, services) -> None:
    await _platform(services)
    async with services.sessionmaker() as session:
        fake = await put_product(session, "HIDDEN", category="食品饮料", tier="L5", counterfeit=1)
        await session.commit()
    requests = await chat.callback(ME, PickCb(action="d", id=fake.id).pack())
    assert not _sent(requests)
    [answer] = [r for r in requests if isinstance(r, AnswerCallbackQuery)]
    assert answer.show_alert and "下架" in answer.text


async def test_not_interested_is_remembered_and_its_buttons_go(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 100_000})
    [reply] = _sent(await chat.message(ME, "/picks"))
    skip = next(data for text, data in buttons(reply) if text == "1. 不感兴趣")
    requests = await chat.callback(ME, skip)
    [answer] = [r for r in requests if isinstance(r, AnswerCallbackQuery)]
    assert "FOOD-L5-A" in answer.text
    async with services.sessionmaker() as session:
        assert (
            await session.exec(select(NotInterested.sku).where(NotInterested.telegram_id == ME))
        ).all() == ["FOOD-L5-A"]
    # Tomorrow's picks (nothing shown "before today" blocks them except the refusal) leave it out.
    async with services.sessionmaker() as session:
        for row in (await session.exec(select(PickSent))).all():
            await session.delete(row)
        await session.commit()
    [again] = _sent(await chat.message(ME, "/picks"))
    assert "FOOD-L5-A" not in _skus(again.text)


async def test_not_interested_edits_the_keyboard_when_telegram_hands_it_back(chat, services) -> None:
    from aiogram.types import InlineKeyboardMarkup

    from handlers.picks import _without_product

    await _platform(services, sales={"美妆个护": 100_000})
    [reply] = _sent(await chat.message(ME, "/picks"))
    markup = reply.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    first_id = PickCb.unpack(markup.inline_keyboard[0][0].callback_data).id
    trimmed = _without_product(markup, first_id)
    assert trimmed is not None and len(trimmed.inline_keyboard) == len(markup.inline_keyboard) - 1
    assert all(str(first_id) not in (b.callback_data or "") for row in trimmed.inline_keyboard for b in row)


async def test_more_picks_shows_the_next_set(chat, services) -> None:
    await _platform(services)  # no data: platform gaps in all three categories
    [reply] = _sent(await chat.message(ME, "/picks"))
    first = _skus(reply.text)
    more = next(data for text, data in buttons(reply) if text == "🔄 换一批")
    requests = await chat.callback(ME, more)
    [edited] = [r for r in requests if isinstance(r, EditMessageText)]
    second = _skus(edited.text)
    assert len(first) == 5 and second and not set(first) & set(second)
    assert "换一批 · 第 2 组" in edited.text
    # The last page: nothing more, the message stays, a polite note.
    last = next(data for text, data in buttons(edited) if text == "🔄 换一批")
    requests = await chat.callback(ME, last)
    assert not [r for r in requests if isinstance(r, EditMessageText | SendMessage)]
    [answer] = [r for r in requests if isinstance(r, AnswerCallbackQuery)]
    assert "没有更多" in answer.text


async def test_forged_pick_buttons_get_a_polite_answer(chat, services) -> None:
    await _platform(services)
    for data in ("pk:d:999999:0", "pk:x:1:0", "pk:d:notanumber:0", "pk:m:0:99999999999999999999"):
        requests = await chat.callback(ME, data)
        [answer] = [r for r in requests if isinstance(r, AnswerCallbackQuery)]
        assert answer.text, data


async def test_merchants_keep_their_picks(chat, services) -> None:
    await _platform(services)
    async with services.sessionmaker() as session:
        await bind_merchant(session, 777, "M1")
        await session.commit()
    [reply] = _sent(await chat.message(777, "/picks"))
    assert (
        "商品编号" in reply.text and "没有这个命令" not in reply.text
    )  # roles add up: a merchant streams too


async def test_categories_with_sales_is_a_table_with_the_gaps(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 90_000, "家居百货": 10_000})
    [reply] = _sent(await chat.message(ME, "/categories"))
    assert "<pre>" in reply.text and reply.reply_markup is None
    table = reply.text.split("<pre>")[1].split("</pre>")[0]
    lines = table.splitlines()
    assert lines[0].split() == ["品类", "你", "同类主播", "缺口"]
    assert lines[1].split() == ["食品饮料", "0%", "30%", "+30%"]
    assert lines[2].split() == ["美妆个护", "90%", "60%"]  # no gap: they sell more of it
    assert lines[3].split() == ["家居百货", "10%", "10%"]


async def test_categories_without_sales_lets_them_choose(chat, services) -> None:
    await _platform(services)
    [reply] = _sent(await chat.message(ME, "/categories"))
    assert "平台" in reply.text
    choices = {text: data for text, data in buttons(reply)}
    assert set(choices) >= {"美妆个护", "食品饮料", "家居百货", "✔️ 完成"}

    requests = await chat.callback(ME, choices["美妆个护"])
    [edited] = [r for r in requests if isinstance(r, EditMessageText)]
    assert "✅ 美妆个护" in [text for text, _ in buttons(edited)]
    await chat.callback(ME, choices["食品饮料"])
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.chosen_categories == "美妆个护;食品饮料"

    # Picks now fill the gaps of the chosen mix.
    [picks] = _sent(await chat.message(ME, "/picks"))
    assert "食品饮料: 你 50%" not in picks.text and "家居百货: 你 0%" in picks.text

    # A second press removes; 完成 closes the chooser.
    await chat.callback(ME, choices["食品饮料"])
    requests = await chat.callback(ME, choices["✔️ 完成"])
    assert any(isinstance(r, EditMessageReplyMarkup) for r in requests)
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.chosen_categories == "美妆个护"


async def test_category_buttons_for_a_streamer_with_sales_change_nothing(chat, services) -> None:
    await _platform(services, sales={"美妆个护": 1})
    async with services.sessionmaker() as session:
        cat = (await session.exec(select(Category).where(Category.name == "食品饮料"))).one()
    requests = await chat.callback(ME, CategoryCb(action="t", id=cat.id).pack())
    [answer] = [r for r in requests if isinstance(r, AnswerCallbackQuery)]
    assert answer.show_alert
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is None or user.chosen_categories == ""


async def test_digest_on_off_and_time(chat, services) -> None:
    [status] = texts(await chat.message(ME, "/digest"))
    assert "开启" in status and "09:00" in status and "Asia/Shanghai" in status and "用法" in status
    [off] = texts(await chat.message(ME, "/digest off"))
    assert "关闭" in off
    [at] = texts(await chat.message(ME, "/digest 7:30"))
    assert "开启" in at and "07:30" in at
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.digest_enabled and user.digest_time == "07:30"
    for bad in ("/digest 25:00", "/digest 7:3", "/digest maybe", "/digest 07:60"):
        [reply] = texts(await chat.message(ME, bad))
        assert "用法" in reply, bad
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.digest_time == "07:30" and user.digest_enabled


async def test_tz_is_validated(chat, services) -> None:
    [reply] = texts(await chat.message(ME, "/tz europe/london"))
    assert "Europe/London" in reply and "09:00" in reply
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.timezone == "Europe/London"
    for bad in ("/tz Mars/Olympus", "/tz ../../etc/passwd", "/tz 8", "/tz"):
        [reply] = texts(await chat.message(ME, bad))
        assert "/tz 地区/城市" in reply or "用法" in reply, bad
    async with services.sessionmaker() as session:
        user = await session.get(User, ME)
    assert user is not None and user.timezone == "Europe/London"


def test_resolve_zone() -> None:
    assert resolve_zone("Asia/Shanghai") == "Asia/Shanghai"
    assert resolve_zone("ＡＳＩＡ／ＴＯＫＹＯ") == "Asia/Tokyo"
    assert resolve_zone("utc") == "UTC"
    assert resolve_zone("Asia/Nowhere") is None
    assert resolve_zone("/etc/passwd") is None
    assert resolve_zone("") is None


async def test_watch_a_product_a_brand_list_and_stop(chat, services) -> None:
    async with services.sessionmaker() as session:
        await put_product(
            session, "WATCH-1", category="食品饮料", tier="L4", brand="三只松鼠", commission=0.15
        )
        await put_product(
            session, "WATCH-2", category="食品饮料", tier="L3", brand="三只松鼠", commission=0.10
        )
        await session.commit()
    [usage] = texts(await chat.message(ME, "/watch"))
    assert "用法" in usage
    [added] = texts(await chat.message(ME, "/watch watch-1"))
    assert "WATCH-1" in added and "L4" in added and "15.0%" in added
    [brand] = texts(await chat.message(ME, "/watch 三只松鼠"))
    assert "三只松鼠" in brand
    [again] = texts(await chat.message(ME, "/watch 三只松鼠"))
    assert "已经" in again
    [missing] = texts(await chat.message(ME, "/watch nothing-like-this"))
    assert "没有找到" in missing
    async with services.sessionmaker() as session:
        watches = (await session.exec(select(Watch).order_by(Watch.id))).all()
        states = (await session.exec(select(WatchState.sku, WatchState.tier))).all()
    assert [(w.kind, w.target) for w in watches] == [("product", "WATCH-1"), ("brand", "三只松鼠")]
    assert sorted(states) == [("WATCH-1", "L4"), ("WATCH-1", "L4"), ("WATCH-2", "L3")]  # baselines

    [listing] = _sent(await chat.message(ME, "/watch"))
    stops = [data for _text, data in buttons(listing)]
    assert len(stops) == 2
    # Someone else cannot stop my watch.
    requests = await chat.callback(ME + 1, stops[0])
    assert [r for r in requests if isinstance(r, AnswerCallbackQuery)][0].show_alert
    requests = await chat.callback(ME, stops[0])
    [edited] = [r for r in requests if isinstance(r, EditMessageText)]
    assert "WATCH-1" not in edited.text and "三只松鼠" in edited.text
    async with services.sessionmaker() as session:
        assert [w.target for w in (await session.exec(select(Watch))).all()] == ["三只松鼠"]
    requests = await chat.callback(ME, WatchCb(action="rm", id=10**6).pack())
    assert [r for r in requests if isinstance(r, AnswerCallbackQuery)][0].show_alert


async def test_hidden_products_cannot_be_watched_by_sku(chat, services) -> None:
    async with services.sessionmaker() as session:
        await put_product(session, "FAKE-1", category="食品饮料", tier="L0", brand="假货", counterfeit=1)
        await session.commit()
    [reply] = texts(await chat.message(ME, "/watch FAKE-1"))
    assert "没有找到" in reply


async def test_digest_setting_needs_no_start_first(chat, services) -> None:
    async with services.sessionmaker() as session:
        await put_user(session, ME + 5, language="zh")
        await session.commit()
    [reply] = texts(await chat.message(ME + 6, "/digest off"))
    assert "关闭" in reply
    async with services.sessionmaker() as session:
        user = await session.get(User, ME + 6)
    assert user is not None and not user.digest_enabled


def test_the_mix_table_always_shows_what_they_sell() -> None:
    from bot.render import mix_table
    from core.picks import Reference

    reference = Reference({f"品类{i:02d}": 0.05 for i in range(19)} | {"家庭清洁": 0.05}, "peers", 20)
    text = mix_table({"家庭清洁": 1.0}, reference, "zh", limit=8)
    lines = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert len(lines) == 1 + 8
    assert lines[-1].split() == ["家庭清洁", "100%", "5%"]  # their own category, no gap
    assert all(line.split()[-1] == "+5%" for line in lines[1:-1])  # gaps fill the rest
    assert "另有 12 个品类" in text
