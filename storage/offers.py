"""Exclusive commissions (专属佣金): one merchant's higher rate on one product for one streamer.

An offer is live from when it is made until `expires_at`; it lapses by itself (every read
filters on the clock), and a new offer for the same product and streamer replaces the old one.
Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sql import chunks
from storage.tables import ExclusiveOffer, Product


@dataclass(frozen=True, slots=True)
class Offer:
    id: int
    product_id: int
    sku: str
    streamer_id: int
    merchant_id: int
    rate: float
    expires_at: datetime
    accepted: bool


def _offer(row: ExclusiveOffer, sku: str) -> Offer:
    assert row.id is not None
    return Offer(
        row.id,
        row.product_id,
        sku,
        int(row.streamer_id),
        row.merchant_id,
        float(row.rate),
        row.expires_at,
        row.accepted_at is not None,
    )


def _live(now: datetime):
    return col(ExclusiveOffer.expires_at) > now


async def make_offer(
    product_id: int,
    streamer_id: int,
    *,
    merchant_id: int,
    rate: float,
    expires_at: datetime,
    offered_by: int,
    session: AsyncSession,
) -> Offer:
    """Offer `rate` on a product to a streamer until `expires_at` (replacing an earlier offer)."""
    row = (
        await session.exec(
            select(ExclusiveOffer).where(
                ExclusiveOffer.product_id == product_id, ExclusiveOffer.streamer_id == streamer_id
            )
        )
    ).first()
    if row is None:
        row = ExclusiveOffer(
            product_id=product_id,
            streamer_id=streamer_id,
            merchant_id=merchant_id,
            rate=rate,
            expires_at=expires_at,
            offered_by=offered_by,
        )
        session.add(row)
    else:
        row.merchant_id, row.rate, row.expires_at, row.offered_by = merchant_id, rate, expires_at, offered_by
        row.accepted_at = None  # a new offer asks again
    await session.flush()
    product = await session.get(Product, product_id)
    return _offer(row, product.sku if product is not None else "")


async def get_offer(offer_id: int, *, now: datetime, session: AsyncSession) -> Offer | None:
    """A live offer by id (None once it lapsed)."""
    row = (
        await session.exec(
            select(ExclusiveOffer, Product.sku)
            .join(Product, col(Product.id) == col(ExclusiveOffer.product_id))
            .where(col(ExclusiveOffer.id) == offer_id, _live(now))
        )
    ).first()
    return _offer(row[0], row[1]) if row is not None else None


async def offer_for(
    streamer_id: int, product_id: int, *, now: datetime, session: AsyncSession
) -> Offer | None:
    """The streamer's live offer on a product, if any: what their card of it shows."""
    row = (
        await session.exec(
            select(ExclusiveOffer, Product.sku)
            .join(Product, col(Product.id) == col(ExclusiveOffer.product_id))
            .where(
                col(ExclusiveOffer.streamer_id) == streamer_id,
                col(ExclusiveOffer.product_id) == product_id,
                _live(now),
            )
        )
    ).first()
    return _offer(row[0], row[1]) if row is not None else None


async def live_rates(
    streamer_ids: Iterable[int], *, now: datetime, session: AsyncSession
) -> dict[int, dict[str, float]]:
    """streamer -> {sku: exclusive rate} of their live offers (what their picks rank and show)."""
    ids = sorted(set(streamer_ids))
    out: dict[int, dict[str, float]] = {}
    for chunk in chunks(ids):
        rows = await session.exec(
            select(ExclusiveOffer.streamer_id, Product.sku, ExclusiveOffer.rate)
            .join(Product, col(Product.id) == col(ExclusiveOffer.product_id))
            .where(col(ExclusiveOffer.streamer_id).in_(chunk), _live(now))
        )
        for streamer_id, sku, rate in rows.all():
            out.setdefault(int(streamer_id), {})[sku] = float(rate)
    return out


async def accept_offer(
    offer_id: int, streamer_id: int, *, now: datetime, session: AsyncSession
) -> Offer | None:
    """The streamer accepts their own live offer; None when it is not theirs or has lapsed."""
    row = (
        await session.exec(
            select(ExclusiveOffer).where(
                col(ExclusiveOffer.id) == offer_id, col(ExclusiveOffer.streamer_id) == streamer_id, _live(now)
            )
        )
    ).first()
    if row is None:
        return None
    if row.accepted_at is None:
        row.accepted_at = now
        await session.flush()
    product = await session.get(Product, row.product_id)
    return _offer(row, product.sku if product is not None else "")
