"""Merchants and their goods: a merchant by code, the /mygoods listing, tier counts, category averages.

Every function takes the caller's session (keyword-only) and never commits (the handler middleware,
or the job that opened the session, does). Values come out as plain dataclasses.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import TIERS
from core.grading import DIMENSIONS, INDICATORS, Indicators
from storage.catalog import indicators_of
from storage.tables import Category, Merchant, Product

PAGE_SIZE = 10


def _fold(text: str) -> str:
    """Full-width to half-width, case folded: how two spellings of a code are compared."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


# --------------------------------------------------------------------------------------------
# Merchants by code


@dataclass(frozen=True, slots=True)
class MerchantRef:
    id: int
    code: str
    name: str


def _ref(m: Merchant) -> MerchantRef:
    assert m.id is not None
    return MerchantRef(m.id, m.code, m.name)


async def find_merchant(query: str, *, session: AsyncSession) -> MerchantRef | None:
    """The merchant whose code is `query` (exactly, else ignoring case and full-width forms)."""
    query = query.strip()
    if not query:
        return None
    exact = (await session.exec(select(Merchant).where(Merchant.code == query))).first()
    if exact is not None:
        return _ref(exact)
    folded = _fold(query)
    rows = (await session.exec(select(Merchant).where(func.lower(Merchant.code) == folded.lower()))).all()
    if len(rows) == 1:
        return _ref(rows[0])
    return None


async def get_merchant(merchant_id: int, *, session: AsyncSession) -> MerchantRef | None:
    merchant = await session.get(Merchant, merchant_id)
    return _ref(merchant) if merchant is not None else None


async def list_merchants(limit: int = 500, *, session: AsyncSession) -> list[MerchantRef]:
    """Merchants by name (an admin picks one in the Mini App)."""
    rows = (await session.exec(select(Merchant).order_by(col(Merchant.name)).limit(limit))).all()
    return [_ref(m) for m in rows]


async def merchant_name(merchant_id: int | None, *, session: AsyncSession) -> str | None:
    if merchant_id is None:
        return None
    merchant = await session.get(Merchant, merchant_id)
    return merchant.name if merchant else None


async def close_merchants(query: str, limit: int = 5, *, session: AsyncSession) -> list[str]:
    """Merchant codes that look like `query` (substring first, then fuzzy), for "did you mean"."""
    rows = (await session.exec(select(Merchant.code, Merchant.name))).all()
    folded = _fold(query)
    if not folded:
        return [code for code, _ in rows[:limit]]
    by_key = {}
    for code, name in rows:
        by_key[code] = f"{_fold(code)} {_fold(name)}"
    found = [code for code, key in by_key.items() if folded in key]
    if len(found) < limit:
        matches = process.extract(folded, by_key, scorer=fuzz.WRatio, limit=limit * 2, score_cutoff=55)
        found += [code for _key, _score, code in matches if code not in found]
    return found[:limit]


# --------------------------------------------------------------------------------------------
# /mygoods


@dataclass(frozen=True, slots=True)
class GoodsLine:
    id: int
    sku: str
    title: str
    tier: str
    score: float
    counterfeit: bool


async def tier_counts(merchant_id: int, *, session: AsyncSession) -> dict[str, int]:
    """How many of the merchant's products sit in each tier (an index-only scan of (merchant_id, tier))."""
    rows = (
        await session.exec(
            select(Product.tier, func.count())
            .where(Product.merchant_id == merchant_id)
            .group_by(Product.tier)
        )
    ).all()
    counts = dict.fromkeys(TIERS, 0)
    counts.update({tier: int(n) for tier, n in rows})
    return counts


async def goods_page(
    merchant_id: int,
    *,
    tier: str | None = None,
    page: int = 0,
    per_page: int = PAGE_SIZE,
    session: AsyncSession,
) -> list[GoodsLine]:
    """One page of the merchant's products: best tier first, then highest score."""
    columns: tuple[Any, ...] = (Product.id, Product.sku, Product.title, Product.tier, Product.score)
    columns += (Product.counterfeit_flag,)
    query = select(*columns).where(Product.merchant_id == merchant_id)
    if tier is not None:
        query = query.where(Product.tier == tier)
    query = (
        query.order_by(col(Product.tier).desc(), col(Product.score).desc(), col(Product.id))
        .offset(max(page, 0) * per_page)
        .limit(per_page)
    )
    rows = (await session.exec(query)).all()
    return [GoodsLine(r[0], r[1], r[2], r[3], float(r[4]), bool(r[5])) for r in rows]


async def merchant_indicators(
    merchant_id: int, *, limit: int = 20_000, session: AsyncSession
) -> list[tuple[Indicators, tuple[str, ...]]]:
    """The indicators and tags of the merchant's goods (at most `limit`): which levers lift most."""
    columns: tuple[Any, ...] = tuple(getattr(Product, name) for name in INDICATORS)
    columns += (Product.factory_verified, Product.counterfeit_flag, Product.tags)
    rows = (
        await session.exec(
            select(*columns).where(Product.merchant_id == merchant_id).order_by(col(Product.id)).limit(limit)
        )
    ).all()
    return [(indicators_of(r), tuple(x for x in (r.tags or "").split(";") if x)) for r in rows]


# --------------------------------------------------------------------------------------------
# The radar chart's reference


async def category_average(category: str, *, session: AsyncSession) -> dict[str, float] | None:
    """Each dimension's mean over the category's products (counterfeits left out): one aggregate query."""
    dims = [
        Product.dim_brand,
        Product.dim_price,
        Product.dim_distribution,
        Product.dim_service,
        Product.dim_sales,
    ]
    row: Any = (
        await session.exec(
            select(func.count(), *(func.avg(d) for d in dims))
            .select_from(Product)
            .join(Category, col(Category.id) == col(Product.category_id))
            .where(Category.name == category, Product.counterfeit_flag == 0)
        )
    ).one()
    if not row[0]:
        return None
    return {dim: float(value or 0.0) for dim, value in zip(DIMENSIONS, row[1:], strict=True)}
