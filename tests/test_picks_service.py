"""Picks wired to storage: mix from sales or chosen categories, reference from peers or the platform,
L4+ (L5 first), at most 2 per category, none shown in the 14 days before, none marked 不感兴趣.

Runs on SQLite and PostgreSQL (the `db` fixture). The CLI test runs `python -m bot picks` for real.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import date, timedelta

from sqlmodel import func, select

from bot.picks import PICKS_COUNT, picks_context, picks_for
from storage import pick_history, profiles
from storage.tables import PickSent
from tests.processes import bot_env, died
from tests.test_digest_helpers import (
    PEER_BASE,
    make_settings,
    platform_with_peers,
    put_pick_sent,
    put_product,
    put_sales,
    put_user,
)

DAY = date(2026, 11, 24)
BEAUTY_ONLY = 42


async def _picks(db, telegram_id: int, on: date = DAY):
    return await picks_for(db.sessionmaker, make_settings(db.url), telegram_id, on_date=on)


async def test_a_streamer_who_sells_only_beauty_gets_no_beauty_pick(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 100_000})
        await session.commit()
    result = await _picks(db, BEAUTY_ONLY)

    assert result.reference.source == "peers" and result.reference.peer_count >= 5
    assert [g.category for g in result.gaps] == ["食品饮料", "家居百货"]  # biggest gap first
    categories = [p.category for p in result.picks]
    assert "美妆个护" not in categories
    assert all(p.item.tier in ("L4", "L5") for p in result.picks)
    assert all(not p.item.sku.endswith("FAKE") for p in result.picks)  # counterfeits never
    assert max(Counter(categories).values()) <= 2
    tiers = [p.item.tier for p in result.picks]
    assert tiers == sorted(tiers, reverse=True)  # L5 first
    assert {p.item.sku for p in result.picks} == {"FOOD-L5-A", "FOOD-L5-B", "HOME-L5-A", "HOME-L5-B"}
    assert result.as_json()["gaps"][0] == {"category": "食品饮料", "own_share": 0.0, "reference_share": 0.3}
    assert result.as_json()["picks"][0]["reason"] == "食品饮料: 你 0%, 同类主播 30%"


async def test_nothing_shown_in_the_14_days_before_repeats_and_today_stays(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 100_000})
        await put_pick_sent(session, BEAUTY_ONLY, "FOOD-L5-A", DAY - timedelta(days=1))
        await put_pick_sent(session, BEAUTY_ONLY, "HOME-L5-A", DAY - timedelta(days=14))
        await put_pick_sent(session, BEAUTY_ONLY, "HOME-L5-B", DAY - timedelta(days=15))  # long enough ago
        await put_pick_sent(session, BEAUTY_ONLY, "FOOD-L5-B", DAY)  # today's picks are today's picks
        await session.commit()
    skus = {p.item.sku for p in (await _picks(db, BEAUTY_ONLY)).picks}
    assert "FOOD-L5-A" not in skus and "HOME-L5-A" not in skus
    assert {"HOME-L5-B", "FOOD-L5-B"} <= skus
    assert skus == {"FOOD-L5-B", "FOOD-L4-A", "HOME-L5-B", "HOME-L4-A"}


async def test_not_interested_is_never_picked(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 100_000})
        await put_user(session, BEAUTY_ONLY)
        assert await pick_history.mark_not_interested(BEAUTY_ONLY, "FOOD-L5-A", session=session)
        assert not await pick_history.mark_not_interested(BEAUTY_ONLY, "FOOD-L5-A", session=session)
        await session.commit()
    skus = [p.item.sku for p in (await _picks(db, BEAUTY_ONLY)).picks]
    assert "FOOD-L5-A" not in skus and "FOOD-L5-B" in skus


async def test_no_data_gets_platform_picks_with_an_honest_reason(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await session.commit()
    result = await _picks(db, 777)  # never imported, never started
    assert result.own == {} and result.reference.source == "platform"
    assert len(result.picks) == PICKS_COUNT
    assert all(
        "平台" in p_json["reason"] and ": 你 0%" in p_json["reason"] for p_json in result.as_json()["picks"]
    )
    assert "平台" in result.as_text("zh")
    assert "no sales of yours".lower() in result.as_text("en").lower()


async def test_no_sales_at_all_falls_back_to_the_catalog_gmv(db) -> None:
    async with db.sessionmaker() as session:
        await put_product(session, "A1", category="美妆个护", tier="L5")
        await put_product(session, "B1", category="食品饮料", tier="L4")
        await session.commit()
    result = await _picks(db, 1)
    assert result.reference.source == "platform"
    assert {p.item.sku for p in result.picks} == {"A1", "B1"}


async def test_chosen_categories_count_as_the_mix_when_nothing_is_imported(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_user(session, 55, chosen_categories="美妆个护;食品饮料")
        await session.commit()
    result = await _picks(db, 55)
    assert result.own == {"美妆个护": 0.5, "食品饮料": 0.5}
    assert {p.category for p in result.picks} == {"美妆个护", "家居百货"}  # 食品饮料: 50% > 30%


async def test_imported_sales_win_over_chosen_categories(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 100_000})
        await put_user(session, BEAUTY_ONLY, chosen_categories="食品饮料;家居百货")
        await session.commit()
    result = await _picks(db, BEAUTY_ONLY)
    assert result.has_sales and result.own == {"美妆个护": 1.0}


async def test_pages_for_more_picks_never_repeat(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await session.commit()
    context = await picks_context(db.sessionmaker)
    async with db.sessionmaker() as session:
        profile = await profiles.get_profile(9, session=session)
        pages = [await _page(session, context, profile, n) for n in range(3)]
    first, second, third = ({p.item.sku for p in page.picks} for page in pages)
    assert len(first) == 5 and second and not (first & second)
    assert len(first | second) == 6  # 3 gap categories x 2 per category
    assert not third


async def _page(session, context, profile, n):
    from bot.picks import streamer_picks

    return await streamer_picks(session, context, profile, DAY, page=n)


async def test_the_context_is_rebuilt_when_goods_change(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await session.commit()
    first = await picks_context(db.sessionmaker)
    assert await picks_context(db.sessionmaker) is first
    async with db.sessionmaker() as session:
        await put_product(session, "NEW-L5", category="食品饮料", tier="L5", score=99)
        await session.commit()
    second = await picks_context(db.sessionmaker)
    assert second is not first
    assert second.catalog["食品饮料"][0].sku == "NEW-L5"


async def test_cli_picks_prints_json_and_records_nothing(sqlite_db, tmp_path, capsys) -> None:
    db = sqlite_db
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 100_000})
        await session.commit()
    env = bot_env(DATABASE_URL=db.url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "picks", str(BEAUTY_ONLY), "--date", DAY.isoformat(), "--json",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, died(proc.returncode, err)
    data = json.loads(out)
    assert data["telegram_id"] == BEAUTY_ONLY and data["date"] == DAY.isoformat()
    assert data["gaps"][0] == {"category": "食品饮料", "own_share": 0.0, "reference_share": 0.3}
    assert [p["sku"] for p in data["picks"]] == ["FOOD-L5-A", "HOME-L5-A", "FOOD-L5-B", "HOME-L5-B"]
    assert set(data["picks"][0]) >= {"sku", "category", "tier", "reason"}

    # The plain-text form, in process (the same command function).
    from argparse import Namespace

    from bot.cli import cmd_picks

    assert (
        await cmd_picks(make_settings(db.url), Namespace(telegram_id=BEAUTY_ONLY, date=DAY, json=False)) == 0
    )
    text = capsys.readouterr().out
    assert "FOOD-L5-A" in text and "商品编号" in text and "<b>" not in text
    async with db.sessionmaker() as session:
        assert (await session.exec(select(func.count()).select_from(PickSent))).one() == 0


async def test_peers_are_not_their_own_reference(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session, peers=6)  # each peer has exactly 5 others
        await session.commit()
    result = await _picks(db, PEER_BASE)
    assert result.reference.source == "peers" and result.reference.peer_count == 5


async def test_peers_who_sell_just_the_same_are_topped_up_from_the_platform(db) -> None:
    async with db.sessionmaker() as session:
        await platform_with_peers(session, peers=0)  # goods only
        for i in range(10):
            await put_sales(session, PEER_BASE + i, {"美妆个护": 50_000})
        for i in range(10, 13):
            await put_sales(session, PEER_BASE + i, {"食品饮料": 200_000, "家居百货": 100_000})
        await put_sales(session, BEAUTY_ONLY, {"美妆个护": 10_000})
        await session.commit()
    result = await _picks(db, BEAUTY_ONLY)
    assert result.reference.source == "peers" and result.gaps == []  # no gap against their peers
    assert result.picks and {p.category for p in result.picks} == {"食品饮料", "家居百货"}
    assert all("平台" in p["reason"] for p in result.as_json()["picks"])
    assert "按平台整体的品类结构推荐" in result.as_text("zh")
