"""Catalog queries: products as plain `CatalogItem`s, one product with its indicators, history."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import CatalogItem, HistoryEntry
from core.grading import Indicators
from storage.tables import Category, Merchant, Product, TierChange

logger = logging.getLogger(__name__)

_ITEM_COLUMNS = (
    Product.id,
    Product.sku,
    Product.title,
    Product.brand,
    Category.name,
    Merchant.code,
    Product.price,
    Product.commission_rate,
    Product.tier,
    Product.score,
    Product.counterfeit_flag,
    Product.badges,
    Product.tags,
    Product.dim_brand,
    Product.dim_price,
    Product.dim_distribution,
    Product.dim_service,
    Product.dim_sales,
    Product.merchant_id,
)


def item_from_row(row) -> CatalogItem:
    """A row of `items_query()` as a plain CatalogItem."""
    return CatalogItem(
        id=row[0],
        sku=row[1],
        title=row[2],
        brand=row[3],
        category=row[4],
        merchant=row[5],
        price=row[6],
        commission_rate=row[7],
        tier=row[8],
        score=row[9],
        counterfeit=bool(row[10]),
        badges=tuple(b for b in row[11].split(";") if b),
        tags=tuple(x for x in row[12].split(";") if x),
        dimensions={
            "brand": row[13],
            "price": row[14],
            "distribution": row[15],
            "service": row[16],
            "sales": row[17],
        },
    )


def items_query():
    """Every product with its category and merchant, in the column order `item_from_row` reads."""
    return (
        select(*_ITEM_COLUMNS)  # type: ignore[call-overload]
        .join(Category, col(Category.id) == col(Product.category_id))
        .join(Merchant, col(Merchant.id) == col(Product.merchant_id))
    )


async def iter_catalog_items(session: AsyncSession, batch: int = 5000) -> AsyncIterator[CatalogItem]:
    """Every product, streamed in id order (memory stays bounded on large catalogs)."""
    last_id = 0
    while True:
        rows = (
            await session.exec(
                items_query().where(col(Product.id) > last_id).order_by(col(Product.id)).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield item_from_row(row)
        last_id = rows[-1][0]


async def load_catalog_items(session: AsyncSession) -> list[CatalogItem]:
    return [item async for item in iter_catalog_items(session)]


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """One product as storage knows it: the public item, its indicators, owner and tags."""

    item: CatalogItem
    indicators: Indicators
    merchant_id: int
    tags: tuple[str, ...]


async def _record(session: AsyncSession, where) -> ProductRecord | None:
    # One query: the item's columns, then the whole row for the indicators.
    row = (await session.exec(items_query().add_columns(Product).where(where))).first()
    if row is None:
        return None
    product: Product = row[-1]
    item = item_from_row(row)
    return ProductRecord(
        item=item, indicators=indicators_of(product), merchant_id=product.merchant_id, tags=item.tags
    )


async def get_product(session: AsyncSession, sku: str) -> ProductRecord | None:
    return await _record(session, col(Product.sku) == sku)


async def get_product_by_id(session: AsyncSession, product_id: int) -> ProductRecord | None:
    return await _record(session, col(Product.id) == product_id)


def indicators_of(product: Product) -> Indicators:
    return Indicators(
        brand_authorized=product.brand_authorized,
        brand_awareness=product.brand_awareness,
        price_index=product.price_index,
        lowest_price_ratio=product.lowest_price_ratio,
        commission_rate=product.commission_rate,
        active_streamers_30d=product.active_streamers_30d,
        shop_rating=product.shop_rating,
        refund_rate=product.refund_rate,
        dispute_rate=product.dispute_rate,
        gmv_30d=product.gmv_30d,
        conversion_rate=product.conversion_rate,
        factory_verified=bool(product.factory_verified),
        counterfeit=bool(product.counterfeit_flag),
    )


async def tier_history(session: AsyncSession, product_id: int, limit: int = 10) -> list[HistoryEntry]:
    rows = (
        await session.exec(
            select(TierChange)
            .where(TierChange.product_id == product_id)
            .order_by(col(TierChange.changed_at).desc(), col(TierChange.id).desc())
            .limit(limit)
        )
    ).all()
    return [HistoryEntry(r.changed_at, r.old_tier, r.new_tier, r.moved_dimension) for r in rows]


async def any_sku(session: AsyncSession, merchant_id: int | None = None) -> str | None:
    """An example sku for usage messages: one of the merchant's own when there is a merchant."""
    query = select(Product.sku).where(Product.tier >= "L3", Product.counterfeit_flag == 0)
    if merchant_id is not None:
        own = (
            await session.exec(select(Product.sku).where(Product.merchant_id == merchant_id).limit(1))
        ).first()
        if own is not None:
            return own
    return (await session.exec(query.limit(1))).first()


async def catalog_version(session: AsyncSession) -> tuple:
    """A cheap fingerprint of the catalog: it changes whenever an import or a regrade writes."""
    products = (
        await session.exec(
            select(func.count(), func.max(Product.updated_at), func.max(Product.graded_at))  # type: ignore[call-overload]
        )
    ).one()
    last_change = (await session.exec(select(func.max(TierChange.id)))).one()
    return (*products, last_change)


async def pending_tier_changes(session: AsyncSession, *, since: datetime) -> list:
    """Real tier moves since `since` that no merchant has been told about (e.g. from a CLI import)."""
    from storage.regrade import TierChangeInfo

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


@dataclass(frozen=True, slots=True)
class ProductBrief:
    """Enough of one product for a button's answer (and the server-side re-check)."""

    id: int
    sku: str
    title: str
    brand: str
    tier: str
    commission_rate: float
    counterfeit: bool


def _brief(row: Any) -> ProductBrief:
    return ProductBrief(int(row[0]), row[1], row[2], row[3], row[4], float(row[5]), bool(row[6]))


_BRIEF = (
    Product.id,
    Product.sku,
    Product.title,
    Product.brand,
    Product.tier,
    Product.commission_rate,
    Product.counterfeit_flag,
)


async def product_brief(product_id: int, *, session: AsyncSession) -> ProductBrief | None:
    row = (await session.exec(select(*_BRIEF).where(col(Product.id) == product_id))).first()  # type: ignore[call-overload, arg-type]
    return _brief(row) if row is not None else None


async def product_brief_by_sku(sku: str, *, session: AsyncSession) -> ProductBrief | None:
    row = (await session.exec(select(*_BRIEF).where(col(Product.sku) == sku))).first()  # type: ignore[call-overload, arg-type]
    if row is None:  # skus are matched as typed first, then case-insensitively
        row = (
            await session.exec(select(*_BRIEF).where(func.lower(Product.sku) == sku.lower()).limit(1))  # type: ignore[call-overload, arg-type]
        ).first()
    return _brief(row) if row is not None else None


async def find_brand(name: str, *, session: AsyncSession) -> str | None:
    """The catalog's spelling of a brand typed in any case, or None."""
    row = (
        await session.exec(
            select(Product.brand).where(func.lower(Product.brand) == name.strip().lower()).limit(1)
        )
    ).first()
    return row
