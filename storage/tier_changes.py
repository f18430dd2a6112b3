"""Tier history: every tier a product moved through, and which moves its merchant was told about.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import HistoryEntry
from storage.sql import chunks
from storage.tables import Product, TierChange, utcnow


@dataclass(frozen=True, slots=True)
class TierChangeInfo:
    """One product whose tier moved: what the merchant alert needs."""

    sku: str
    product_id: int | None
    merchant_id: int | None
    title: str
    old_tier: str | None
    new_tier: str
    moved_dimension: str | None  # a dimension, or a gate ("counterfeit", "factory_verified")
    moved_by: float | None  # signed change of that dimension's score; None for a gate
    old_score: float | None = None
    new_score: float = 0.0


async def tier_history(product_id: int, limit: int = 10, *, session: AsyncSession) -> list[HistoryEntry]:
    """The product's latest tier moves, newest first."""
    rows = (
        await session.exec(
            select(TierChange)
            .where(TierChange.product_id == product_id)
            .order_by(col(TierChange.changed_at).desc(), col(TierChange.id).desc())
            .limit(limit)
        )
    ).all()
    return [HistoryEntry(r.changed_at, r.old_tier, r.new_tier, r.moved_dimension) for r in rows]


async def pending_tier_changes(*, since: datetime, session: AsyncSession) -> list[TierChangeInfo]:
    """Real tier moves since `since` that no merchant has been told about (e.g. from a CLI import)."""
    rows = (
        await session.exec(
            select(TierChange, Product.sku, Product.title, Product.merchant_id)  # type: ignore[call-overload]
            .join(Product, col(Product.id) == col(TierChange.product_id))
            .where(
                col(TierChange.alerted_at).is_(None),
                col(TierChange.old_tier).is_not(None),
                col(TierChange.changed_at) >= since,
            )
            .order_by(col(TierChange.id))
        )
    ).all()
    return [
        TierChangeInfo(
            sku=sku,
            product_id=change.product_id,
            merchant_id=merchant_id,
            title=title,
            old_tier=change.old_tier,
            new_tier=change.new_tier,
            moved_dimension=change.moved_dimension,
            moved_by=change.moved_by,
            old_score=change.old_score,
            new_score=change.new_score,
        )
        for change, sku, title, merchant_id in rows
    ]


async def already_alerted(product_ids: Iterable[int], *, session: AsyncSession) -> set[int]:
    """Products whose tier changes were all told already (none left with alerted_at unset)."""
    ids = sorted(set(product_ids))
    known: set[int] = set()
    pending: set[int] = set()
    for chunk in chunks(ids):
        rows = (
            await session.exec(
                select(col(TierChange.product_id), func.count(), func.count(col(TierChange.alerted_at)))
                .where(col(TierChange.product_id).in_(chunk))
                .group_by(col(TierChange.product_id))
            )
        ).all()
        for pid, total, told in rows:
            known.add(int(pid))
            if told < total:
                pending.add(int(pid))
    return known - pending


async def mark_alerted(
    product_ids: Iterable[int], *, now: datetime | None = None, session: AsyncSession
) -> int:
    """Stamp `alerted_at` on the products' untold tier changes; returns how many rows."""
    now = now or utcnow()
    ids = sorted(set(product_ids))
    marked = 0
    for chunk in chunks(ids):
        result = await session.exec(
            update(TierChange)
            .where(col(TierChange.product_id).in_(chunk), col(TierChange.alerted_at).is_(None))
            .values(alerted_at=now)
        )
        marked += result.rowcount or 0
    return marked


@dataclass(frozen=True, slots=True)
class MerchantTierMove:
    """One tier move of one of a merchant's goods (the Mini App's dashboard)."""

    sku: str
    title: str
    changed_at: datetime
    old_tier: str | None
    new_tier: str


async def merchant_tier_history(
    merchant_id: int, limit: int = 20, *, session: AsyncSession
) -> list[MerchantTierMove]:
    """The latest real tier moves (not first grades) of the merchant's goods, newest first."""
    rows = (
        await session.exec(
            select(  # type: ignore[call-overload]
                Product.sku, Product.title, TierChange.changed_at, TierChange.old_tier, TierChange.new_tier
            )
            .join(Product, col(Product.id) == col(TierChange.product_id))
            .where(Product.merchant_id == merchant_id, col(TierChange.old_tier).is_not(None))
            .order_by(col(TierChange.changed_at).desc(), col(TierChange.id).desc())
            .limit(limit)
        )
    ).all()
    return [MerchantTierMove(r[0], r[1], r[2], r[3], r[4]) for r in rows]
