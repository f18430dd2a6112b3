"""Offers and matching storage on SQLite and PostgreSQL: expiry, replacement, mutes, invitation counts."""

from __future__ import annotations

from datetime import timedelta

from storage import matching, offers
from storage.tables import utcnow
from tests.factories import bind_merchant
from tests.test_digest_helpers import put_product, put_sales, put_user

S1, S2 = 5001, 5002


async def test_offers_are_per_streamer_replaced_and_lapse_by_themselves(db) -> None:
    now = utcnow()
    async with db.sessionmaker() as session:
        product = await put_product(session, "P-1", category="食品", tier="L4", commission=0.2)
        other = await put_product(session, "P-2", category="食品", tier="L4")
        assert product.id and other.id
        first = await offers.make_offer(
            product.id,
            S1,
            merchant_id=product.merchant_id,
            rate=0.3,
            expires_at=now + timedelta(days=7),
            offered_by=1,
            session=session,
        )
        await offers.make_offer(
            other.id,
            S1,
            merchant_id=other.merchant_id,
            rate=0.25,
            expires_at=now - timedelta(seconds=1),
            offered_by=1,
            session=session,
        )
        await session.commit()
    async with db.sessionmaker() as session:
        assert await offers.live_rates([S1, S2], now=now, session=session) == {S1: {"P-1": 0.3}}
        assert await offers.offer_for(S2, product.id, now=now, session=session) is None
        assert await offers.offer_for(S1, other.id, now=now, session=session) is None  # lapsed
        # Only its streamer may accept it.
        assert await offers.accept_offer(first.id, S2, now=now, session=session) is None
        accepted = await offers.accept_offer(first.id, S1, now=now, session=session)
        assert accepted is not None and accepted.accepted and accepted.sku == "P-1"
        # A new offer replaces the old one and asks again.
        again = await offers.make_offer(
            product.id,
            S1,
            merchant_id=product.merchant_id,
            rate=0.4,
            expires_at=now + timedelta(days=1),
            offered_by=1,
            session=session,
        )
        assert again.id == first.id and not again.accepted and again.rate == 0.4
        await session.commit()
    async with db.sessionmaker() as session:
        later = now + timedelta(days=2)
        assert await offers.live_rates([S1], now=later, session=session) == {}
        assert await offers.get_offer(first.id, now=later, session=session) is None


async def test_discoverability_mutes_and_invitation_counts(db) -> None:
    now = utcnow()
    async with db.sessionmaker() as session:
        product = await put_product(session, "P-1", category="食品", tier="L4")
        await put_user(session, S1, discoverable=True)
        await put_user(session, S2)  # off by default
        await bind_merchant(session, 7, "M1")
        await put_sales(session, S1, {"食品": 1_000, "家居": 500})
        await session.commit()
    async with db.sessionmaker() as session:
        assert [f.telegram_id for f in await matching.findable_streamers(session=session)] == [S1]
        await matching.set_discoverable(
            7, True, language="zh", session=session
        )  # roles add up: it streams too
        assert (found := await matching.findable(7, session=session)) is not None and found.telegram_id == 7
        assert await matching.total_gmv([S1, S2], session=session) == {S1: 1_500.0}
        await matching.mute(S1, product.merchant_id, session=session)
        await matching.mute(S1, product.merchant_id, session=session)  # twice is once
        assert await matching.muted_by(product.merchant_id, session=session) == {S1}
        assert await matching.is_muted(S1, product.merchant_id, session=session)
        assert not await matching.is_muted(S2, product.merchant_id, session=session)
        await matching.record_invite(product.merchant_id, S2, product.id, sent_by=7, session=session)
        await session.commit()
    async with db.sessionmaker() as session:
        since = now - timedelta(hours=1)
        assert await matching.invites_since(since, merchant_id=product.merchant_id, session=session) == 1
        assert await matching.invites_since(since, streamer_id=S2, session=session) == 1
        assert await matching.invites_since(since, streamer_id=S1, session=session) == 0
        assert (
            await matching.invites_since(
                now + timedelta(hours=1), merchant_id=product.merchant_id, session=session
            )
            == 0
        )
        assert await matching.already_invited(product.merchant_id, S2, product.id, session=session)
