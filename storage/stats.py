"""The admin's /stats overview: counts across the catalog, users by role and recent digest deliveries.

Read-only; takes the caller's session (keyword-only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import distinct, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import TIERS
from storage.tables import Category, DigestDelivery, Merchant, Product, Streamer, User


@dataclass
class Stats:
    products: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    by_category: list[tuple[str, int]] = field(default_factory=list)
    streamers_started: int = 0
    streamers_digest_on: int = 0
    streamers_imported: int = 0
    merchants: int = 0
    merchants_bound: int = 0
    merchant_users: int = 0
    digests: dict[str, int] = field(default_factory=dict)  # status -> count, last 7 local days
    since: date | None = None


async def catalog_stats(
    *, today: date, admin_ids: Iterable[int] = (), days: int = 7, session: AsyncSession
) -> Stats:
    """The admin's overview: catalog by tier and category, users by role, recent digest outcomes."""
    stats = Stats(since=today - timedelta(days=days - 1))
    tiers = (await session.exec(select(Product.tier, func.count()).group_by(Product.tier))).all()
    stats.by_tier = dict.fromkeys(TIERS, 0) | {tier: int(n) for tier, n in tiers}
    stats.products = sum(stats.by_tier.values())
    cats = (
        await session.exec(
            select(Category.name, func.count(col(Product.id)))
            .join(Product, col(Product.category_id) == col(Category.id))
            .group_by(Category.name)
            .order_by(func.count(col(Product.id)).desc(), Category.name)
        )
    ).all()
    stats.by_category = [(name, int(n)) for name, n in cats]
    admins = sorted(set(admin_ids))
    streamer = select(func.count()).select_from(User)  # roles add up: every user streams
    if admins:
        streamer = streamer.where(col(User.telegram_id).not_in(admins))
    stats.streamers_started = int((await session.exec(streamer)).one())
    stats.streamers_digest_on = int(
        (
            await session.exec(streamer.where(col(User.digest_enabled).is_(True), col(User.active).is_(True)))
        ).one()
    )
    stats.streamers_imported = int((await session.exec(select(func.count()).select_from(Streamer))).one())
    stats.merchants = int((await session.exec(select(func.count()).select_from(Merchant))).one())
    bound = select(func.count(distinct(col(User.merchant_id))), func.count()).where(
        col(User.merchant_id).is_not(None)
    )
    merchants_bound, merchant_users = (await session.exec(bound)).one()
    stats.merchants_bound, stats.merchant_users = int(merchants_bound), int(merchant_users)
    digests = (
        await session.exec(
            select(DigestDelivery.status, func.count())
            .where(col(DigestDelivery.local_date) >= stats.since)
            .group_by(DigestDelivery.status)
        )
    ).all()
    stats.digests = {status: int(n) for status, n in digests}
    return stats
