"""Builders shared by the picks, digest and watch tests (no tests here).

Products are written with an explicit tier and score, so a test says exactly which goods are L4+
without depending on the grading curves.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from storage.tables import Category, DigestDelivery, Merchant, PickSent, Product, Streamer, StreamerSale, User
from tests.factories import GOOD, get_or_add

_skus = itertools.count(1)


async def put_product(
    session: AsyncSession,
    sku: str,
    *,
    category: str,
    tier: str,
    score: float | None = None,
    brand: str = "好物",
    title: str | None = None,
    commission: float = 0.2,
    counterfeit: int = 0,
    merchant: str = "M1",
    price: float = 59.0,
) -> Product:
    cat = await get_or_add(session, Category, name=category)
    mer = await get_or_add(session, Merchant, code=merchant)
    values = dict(GOOD, commission_rate=commission, counterfeit_flag=counterfeit)
    product = Product(
        sku=sku,
        title=title or f"{category}好货{sku}",
        brand=brand,
        category_id=cat.id,
        merchant_id=mer.id,
        price=price,
        tier=tier,
        score=score if score is not None else {"L5": 90.0, "L4": 80.0}.get(tier, 60.0),
        **values,
    )
    session.add(product)
    await session.flush()
    return product


async def put_sales(session: AsyncSession, telegram_id: int, sales: Mapping[str, float]) -> None:
    if await session.get(Streamer, telegram_id) is None:
        session.add(Streamer(telegram_id=telegram_id, name=f"主播{telegram_id}"))
        await session.flush()
    for category, gmv in sales.items():
        cat = await get_or_add(session, Category, name=category)
        session.add(StreamerSale(telegram_id=telegram_id, category_id=cat.id, gmv_30d=gmv))
    await session.flush()


async def put_user(session: AsyncSession, telegram_id: int, **fields: Any) -> User:
    user = User(telegram_id=telegram_id, name=f"user{telegram_id}", **fields)
    session.add(user)
    await session.flush()
    return user


async def put_pick_sent(session: AsyncSession, telegram_id: int, sku: str, on: date) -> None:
    session.add(PickSent(telegram_id=telegram_id, sku=sku, sent_on=on))
    await session.flush()


async def rows_by_user(session: AsyncSession) -> dict[int, list[DigestDelivery]]:
    out: dict[int, list[DigestDelivery]] = {}
    for row in (await session.exec(select(DigestDelivery).order_by(DigestDelivery.id))).all():
        out.setdefault(int(row.telegram_id), []).append(row)
    return out


async def picks_sent(session: AsyncSession, telegram_id: int) -> list[tuple[str, date]]:
    rows = await session.exec(
        select(PickSent.sku, PickSent.sent_on)
        .where(PickSent.telegram_id == telegram_id)
        .order_by(PickSent.sku)
    )
    return [(sku, on) for sku, on in rows.all()]


def make_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=url, default_timezone="Asia/Shanghai", digest_time=time(9, 0), _env_file=None
    )
    values.update(overrides)
    return Settings(**values)


PEER_BASE = 5_000_000


async def platform_with_peers(session: AsyncSession, *, peers: int = 12) -> None:
    """Peers selling 美妆个护 60% / 食品饮料 30% / 家居百货 10%; L5, L4, L3 goods in each."""
    for i in range(peers):
        await put_sales(
            session, PEER_BASE + i, {"美妆个护": 60_000 + i, "食品饮料": 30_000, "家居百货": 10_000}
        )
    for category, prefix in (("美妆个护", "BEAUTY"), ("食品饮料", "FOOD"), ("家居百货", "HOME")):
        await put_product(session, f"{prefix}-L5-A", category=category, tier="L5", score=92)
        await put_product(session, f"{prefix}-L5-B", category=category, tier="L5", score=88)
        await put_product(session, f"{prefix}-L4-A", category=category, tier="L4", score=82)
        await put_product(session, f"{prefix}-L4-B", category=category, tier="L4", score=78)
        await put_product(session, f"{prefix}-L3", category=category, tier="L3", score=70)
        await put_product(session, f"{prefix}-FAKE", category=category, tier="L5", score=99, counterfeit=1)


def utc(*args: int) -> datetime:
    from datetime import UTC

    return datetime(*args, tzinfo=UTC)


async def seed_streamers(database: Any, streamers: list[int]) -> Any:
    """A database with platform sales, enough peers, and these streamers started with digests on.

    The digest fault tests use it on SQLite only: they are about the wire, not the SQL dialect
    (the claiming and uniqueness rules run on both databases in test_digest_pass.py).
    """
    async with database.sessionmaker() as session:
        await platform_with_peers(session)
        for telegram_id in streamers:
            await put_user(session, telegram_id)
        await session.commit()
    return database
