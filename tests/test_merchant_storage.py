"""Merchant storage on SQLite and PostgreSQL: invites, binding, /mygoods, averages, alerts, stats."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import asyncpg
import pytest
from sqlmodel import col, select

from core.grading import DIMENSIONS
from storage.engine import make_engine
from storage.invites import (
    CODE_ALPHABET,
    CODE_LENGTH,
    BindStatus,
    RevokeStatus,
    bind_invite,
    create_invite,
    normalise_code,
    revoke_invite,
)
from storage.merchants import category_average, close_merchants, find_merchant, goods_page, tier_counts
from storage.sql import aware
from storage.stats import catalog_stats
from storage.tables import (
    DigestDelivery,
    ExclusiveOffer,
    InviteCode,
    Leader,
    TierChange,
    User,
    utcnow,
)
from storage.tier_changes import already_alerted, mark_alerted
from storage.users import (
    MERCHANT,
    STREAMER,
    Facts,
    FactsReader,
    FactsUnavailable,
    alert_recipients,
    user_facts,
    viewer_of,
)
from tests.factories import MIDDLING, add_product, bind_merchant

pytestmark = pytest.mark.storage

ADMIN = 900


async def _merchant(db, code: str = "云南白药旗舰店"):
    async with db.sessionmaker() as session:
        await add_product(session, f"{code}-1", merchant=code)
        await session.commit()
        return await find_merchant(code, session=session)


async def _invite(db, merchant, now=None) -> str:
    async with db.sessionmaker() as session:
        invite = await create_invite(merchant, created_by=ADMIN, now=now, session=session)
        await session.commit()
    return invite.code


async def _bind(db, code: str, telegram_id: int, now=None):
    async with db.sessionmaker() as session:
        result = await bind_invite(code, telegram_id=telegram_id, name="n", now=now, session=session)
        await session.commit()
    return result


async def _user(db, telegram_id: int) -> User | None:
    async with db.sessionmaker() as session:
        return await session.get(User, telegram_id)


async def test_an_invite_binds_once_and_only_once(db) -> None:
    merchant = await _merchant(db)
    code = await _invite(db, merchant)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)

    first = await _bind(db, code, 501)
    assert first.status == BindStatus.BOUND and first.merchant == merchant
    user = await _user(db, 501)
    assert user is not None and user.merchant_id == merchant.id

    assert (await _bind(db, code, 502)).status == BindStatus.USED  # someone else: used
    assert (
        await _bind(db, code, 501)
    ).status == BindStatus.USED_BY_YOU  # the same person again: used, by you
    assert await _user(db, 502) is None  # the refused user was not created either
    async with db.sessionmaker() as session:
        invite = await session.get(InviteCode, code)
    assert invite is not None and invite.used_by == 501 and invite.used_at is not None


async def test_unknown_expired_and_sloppily_typed_codes(db) -> None:
    merchant = await _merchant(db)
    now = utcnow()
    code = await _invite(db, merchant, now=now)
    assert (await _bind(db, "NOPE2345", 501)).status == BindStatus.UNKNOWN
    assert (await _bind(db, "", 501)).status == BindStatus.UNKNOWN
    later = now + timedelta(days=7, seconds=1)
    assert (await _bind(db, code, 501, now=later)).status == BindStatus.EXPIRED
    assert await _user(db, 501) is None
    # Within the 7 days, typed in lower case with a space and full-width characters: still the code.
    sloppy = code[:4].lower() + " " + "".join(chr(ord(c) + 0xFEE0) for c in code[4:])
    assert normalise_code(sloppy) == code
    assert (await _bind(db, sloppy, 501, now=now + timedelta(days=6))).status == BindStatus.BOUND


async def test_a_merchant_user_can_switch_with_a_new_code(db) -> None:
    first = await _merchant(db, "M-A")
    second = await _merchant(db, "M-B")
    await _bind(db, await _invite(db, first), 501)
    result = await _bind(db, await _invite(db, second), 501)
    assert result.status == BindStatus.SWITCHED and result.previous == first and result.merchant == second
    user = await _user(db, 501)
    assert user is not None and user.merchant_id == second.id
    # A code for the merchant you already have is left for someone else.
    spare = await _invite(db, second)
    assert (await _bind(db, spare, 501)).status == BindStatus.ALREADY
    assert (await _bind(db, spare, 502)).status == BindStatus.BOUND


async def test_two_people_racing_for_one_code_cannot_both_win(db) -> None:
    merchant = await _merchant(db)
    code = await _invite(db, merchant)
    results = await asyncio.gather(*(_bind(db, code, tid) for tid in (601, 602, 603)))
    assert sorted(r.status for r in results).count(BindStatus.BOUND) == 1
    async with db.sessionmaker() as session:
        merchants = (await session.exec(select(User).where(col(User.merchant_id).is_not(None)))).all()
    assert len(merchants) == 1


async def test_revoke_an_unused_code(db) -> None:
    merchant = await _merchant(db)
    code = await _invite(db, merchant)
    async with db.sessionmaker() as session:
        assert await revoke_invite(code, session=session) == RevokeStatus.REVOKED
        assert await revoke_invite("ZZZZ2222", session=session) == RevokeStatus.UNKNOWN
        await session.commit()
    assert (await _bind(db, code, 501)).status == BindStatus.REVOKED  # the true reason, not "expired"
    used = await _invite(db, merchant)
    await _bind(db, used, 502)
    async with db.sessionmaker() as session:
        assert await revoke_invite(used, session=session) == RevokeStatus.USED
        assert await revoke_invite(code, session=session) == RevokeStatus.ALREADY_REVOKED


async def test_merchants_are_found_by_code_and_suggested_when_mistyped(db) -> None:
    for code in ("yunnanbaiyao-flagship", "Colgate-CN", "perfect-diary"):
        await _merchant(db, code)
    async with db.sessionmaker() as session:
        assert (await find_merchant("Colgate-CN", session=session)).code == "Colgate-CN"
        assert (await find_merchant("colgate-cn", session=session)).code == "Colgate-CN"
        assert (await find_merchant("ＣＯＬＧＡＴＥ-ＣＮ", session=session)).code == "Colgate-CN"
        assert await find_merchant("colgate", session=session) is None
        assert (await close_merchants("colgate", session=session))[0] == "Colgate-CN"
        assert "yunnanbaiyao-flagship" in await close_merchants("yunnanbaiyo", session=session)
        assert await close_merchants("zzzzqqqq", session=session) == []


async def test_goods_come_by_tier_with_counts_a_page_at_a_time(db) -> None:
    async with db.sessionmaker() as session:
        for i in range(13):
            await add_product(session, f"TOP-{i:02d}", merchant="M-A", brand_awareness=60 + i)  # L4/L5
        for i in range(4):
            await add_product(session, f"MID-{i}", merchant="M-A", **MIDDLING)
        await add_product(session, "FAKE", merchant="M-A", counterfeit_flag=1)
        await add_product(session, "ELSE", merchant="M-B")
        await session.commit()
        merchant = await find_merchant("M-A", session=session)
        counts = await tier_counts(merchant.id, session=session)
        assert sum(counts.values()) == 18 and counts["L0"] == 1
        everything = []
        for page in range(3):
            everything += await goods_page(merchant.id, page=page, session=session)
        assert len(everything) == 18 and "ELSE" not in {g.sku for g in everything}
        order = [(g.tier, g.score) for g in everything]
        assert order == sorted(order, reverse=True)  # best tier first, then highest score
        assert everything[-1].sku == "FAKE" and everything[-1].counterfeit
        assert len(await goods_page(merchant.id, page=0, session=session)) == 10
        only = await goods_page(merchant.id, tier=everything[-2].tier, session=session)
        assert {g.tier for g in only} == {everything[-2].tier}
        assert await goods_page(merchant.id, page=99, session=session) == []


async def test_category_average_is_the_mean_of_each_dimension(db) -> None:
    async with db.sessionmaker() as session:
        a = await add_product(session, "A", category="美妆个护")
        b = await add_product(session, "B", category="美妆个护", **MIDDLING)
        await add_product(session, "C", category="美妆个护", counterfeit_flag=1, refund_rate=0.5)
        await add_product(session, "D", category="食品饮料", gmv_30d=0)
        await session.commit()
        average = await category_average("美妆个护", session=session)
        assert average is not None and set(average) == set(DIMENSIONS)
        for dim in DIMENSIONS:
            expected = (getattr(a, f"dim_{dim}") + getattr(b, f"dim_{dim}")) / 2
            assert average[dim] == pytest.approx(expected)
        assert await category_average("没有这个类目", session=session) is None


async def test_alert_bookkeeping(db) -> None:
    async with db.sessionmaker() as session:
        p = await add_product(session, "P1", merchant="M-A")
        q = await add_product(session, "P2", merchant="M-A")
        await bind_merchant(session, 701, "M-A")
        await bind_merchant(session, 702, "M-A")
        session.add(TierChange(product_id=p.id, old_tier="L3", new_tier="L4", new_score=80))
        session.add(
            TierChange(product_id=q.id, old_tier="L4", new_tier="L3", new_score=70, alerted_at=utcnow())
        )
        blocked = await session.get(User, 702)
        blocked.active = False
        await session.commit()
        recipients = await alert_recipients([p.merchant_id, 12345], session=session)
        assert [r.telegram_id for r in recipients] == [701] and recipients[0].merchant_name == "M-A"
        assert await already_alerted([p.id, q.id, 999], session=session) == {q.id}
        assert await mark_alerted([p.id, q.id], session=session) == 1
        await session.commit()
        assert await already_alerted([p.id, q.id], session=session) == {p.id, q.id}


async def test_stats_count_the_catalog_the_users_and_recent_digests(db) -> None:
    today = date(2026, 11, 24)
    async with db.sessionmaker() as session:
        await add_product(session, "S1", category="美妆个护", merchant="M-A")
        await add_product(session, "S2", category="美妆个护", merchant="M-B", **MIDDLING)
        await add_product(session, "S3", category="食品饮料", merchant="M-B")
        await bind_merchant(session, 701, "M-A")
        session.add(User(telegram_id=801, name="s1"))
        session.add(User(telegram_id=802, name="s2", digest_enabled=False))
        session.add(User(telegram_id=ADMIN, name="admin"))
        for tid, day, status in [
            (801, today, "sent"),
            (802, today - timedelta(days=6), "failed"),
            (803, today - timedelta(days=2), "blocked"),
            (804, today - timedelta(days=7), "sent"),  # eight days ago: not counted
        ]:
            session.add(DigestDelivery(telegram_id=tid, local_date=day, status=status))
        await session.commit()
        stats = await catalog_stats(today=today, admin_ids={ADMIN}, session=session)
    assert stats.products == 3 and sum(stats.by_tier.values()) == 3
    assert stats.by_category == [("美妆个护", 2), ("食品饮料", 1)]
    assert (stats.streamers_started, stats.streamers_digest_on) == (3, 2)  # the merchant user streams too
    assert (stats.merchants, stats.merchants_bound, stats.merchant_users) == (2, 1, 1)
    assert stats.digests == {"sent": 1, "failed": 1, "blocked": 1}
    assert stats.since == today - timedelta(days=6)


async def test_counts_use_the_merchant_tier_index(sqlite_db) -> None:
    """The /mygoods count is answered from the (merchant_id, tier) index, not a table scan (SQLite's plan)."""
    from sqlalchemy import text

    async with sqlite_db.sessionmaker() as session:
        plan = (
            await session.exec(
                text(
                    "EXPLAIN QUERY PLAN SELECT tier, count(*) FROM product "
                    "WHERE merchant_id = 1 GROUP BY tier"
                )
            )
        ).all()
        page_plan = (
            await session.exec(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM product WHERE merchant_id = 1 "
                    "ORDER BY tier DESC, score DESC, id LIMIT 10"
                )
            )
        ).all()
    assert "ix_product_merchant_tier" in " ".join(str(r) for r in plan)
    assert "ix_product_merchant_tier" in " ".join(str(r) for r in page_plan)


async def test_the_facts_read_on_every_update_are_the_users_row(db) -> None:
    """`user_facts` (through a session) and FactsReader (its own connections) say what the row says."""
    merchant = await _merchant(db)
    async with db.sessionmaker() as session:
        leader = Leader(name="小李", team_code="TEAM0001", created_by=1)
        session.add(leader)
        await session.flush()
        big = 2**40 + 7  # Telegram ids outgrow 32 bits
        session.add(User(telegram_id=big, merchant_id=merchant.id, team_id=leader.id, timezone="Asia/Tokyo"))
        session.add(User(telegram_id=8, leader_id=leader.id))
        # Two exclusive offers to user 8: the facts carry when the later one ends.
        now = utcnow().replace(microsecond=0)
        until = now + timedelta(days=7)
        for n, expires in enumerate((now - timedelta(days=1), until)):
            product = await add_product(session, f"OFFER-{n}", merchant="云南白药旗舰店")
            offer = ExclusiveOffer(
                product_id=product.id,
                streamer_id=8,
                merchant_id=merchant.id,
                rate=0.3,
                expires_at=expires,
                offered_by=1,
            )
            session.add(offer)
        await session.commit()
    async with db.sessionmaker() as session:
        assert await user_facts(big, session=session) == Facts(merchant.id, None, leader.id, "Asia/Tokyo")
        eight = await user_facts(8, session=session)
        assert eight is not None and eight[:4] == (None, leader.id, None, None)
        assert eight.offers_until is not None and aware(eight.offers_until) == until
        assert await user_facts(9, session=session) is None
        viewer = viewer_of(await user_facts(big, session=session), big, "zh", is_admin=False)
        assert viewer.roles == {STREAMER, MERCHANT} and viewer.team_id == leader.id
        assert not viewer.may_hold_offers(now)
        assert viewer_of(eight, 8, "zh", is_admin=False).may_hold_offers(now)
        assert not viewer_of(eight, 8, "zh", is_admin=False).may_hold_offers(until)
    # On PostgreSQL each update reads them through FactsReader's own connections (no session).
    reader = FactsReader.for_engine(db.engine)
    if db.dialect != "postgresql":
        assert reader is None
        return
    assert reader is not None
    try:
        assert await reader.read(big) == Facts(merchant.id, None, leader.id, "Asia/Tokyo")
        at_once = await asyncio.gather(*(reader.read(8) for _ in range(10)))  # more than its connections
        assert at_once == [eight] * 10
        assert await reader.read(9) is None
    finally:
        await reader.close()
    # A URL with the settings of SQLAlchemy's own asyncpg adapter works for the reader too.
    tuned = make_engine(f"{db.url}?prepared_statement_cache_size=50")
    tuned_reader = FactsReader.for_engine(tuned)
    assert tuned_reader is not None
    try:
        assert await tuned_reader.read(8) == eight
    finally:
        await tuned_reader.close()
        await tuned.dispose()


async def test_any_failure_of_a_direct_read_leaves_that_update_to_its_session() -> None:
    """After a restart asyncpg may answer "another operation is in progress" (InternalClientError)
    rather than a connection error: the reader drops the connection and steps aside all the same."""

    class Confused:
        terminated = False

        async def fetchrow(self, *_args):
            raise asyncpg.InternalClientError("another operation (2) is in progress")

        def terminate(self) -> None:
            self.terminated = True

    confused = Confused()

    async def connect():
        return confused

    reader = FactsReader(connect)
    with pytest.raises(FactsUnavailable, match="another operation"):
        await reader.read(1)
    assert confused.terminated and reader.suspended
    reader.resume()  # a session read worked: the database is there, so read directly again
    assert not reader.suspended


async def test_a_reader_that_cannot_connect_at_all_leaves_the_reads_to_the_sessions() -> None:
    """Bad settings (not a database that is down): the reader says so once and steps aside for good."""

    async def connect():
        raise TypeError("connect() got an unexpected keyword argument 'nonsense'")

    reader = FactsReader(connect)
    with pytest.raises(FactsUnavailable, match="nonsense"):
        await reader.read(1)
    reader.resume()  # a session read worked: the database is fine, the reader is not
    assert reader.suspended
    with pytest.raises(FactsUnavailable, match="suspended"):
        await reader.read(1)
