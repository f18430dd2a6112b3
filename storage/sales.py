"""Streamer sales and category mixes, and the catalog picks choose from.

Every function takes the caller's session (keyword-only) and never commits."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import CatalogItem
from storage.catalog import item_from_row, items_query
from storage.tables import (
    Category,
    Product,
    Streamer,
    StreamerSale,
)


async def all_sales(*, session: AsyncSession) -> dict[int, dict[str, float]]:
    """Every streamer's 30-day GMV by category name (the peer index and the platform mix)."""
    rows = await session.exec(
        select(StreamerSale.telegram_id, Category.name, StreamerSale.gmv_30d).join(
            Category, col(Category.id) == col(StreamerSale.category_id)
        )
    )
    sales: dict[int, dict[str, float]] = defaultdict(dict)
    for telegram_id, category, gmv in rows.all():
        sales[int(telegram_id)][category] = float(gmv)
    return dict(sales)


async def streamer_sales(telegram_id: int, *, session: AsyncSession) -> dict[str, float]:
    rows = await session.exec(
        select(Category.name, StreamerSale.gmv_30d)
        .join(Category, col(Category.id) == col(StreamerSale.category_id))
        .where(col(StreamerSale.telegram_id) == telegram_id)
    )
    return {category: float(gmv) for category, gmv in rows.all()}


async def product_gmv_by_category(*, session: AsyncSession) -> dict[str, float]:
    """The catalog's own GMV by category: the platform mix when no streamer sales are imported."""
    rows = await session.exec(
        select(Category.name, func.sum(Product.gmv_30d))
        .join(Category, col(Category.id) == col(Product.category_id))
        .where(col(Product.counterfeit_flag) == 0)
        .group_by(Category.name)
    )
    return {category: float(total or 0) for category, total in rows.all()}


async def categories(*, session: AsyncSession) -> list[tuple[int, str]]:
    """(id, name) of every category, by name."""
    rows = await session.exec(select(col(Category.id), Category.name).order_by(Category.name))
    return [(int(i), n) for i, n in rows.all()]  # type: ignore[call-overload, arg-type]


_PICKABLE = ("L4", "L5")


async def pickable_items(*, session: AsyncSession) -> list[CatalogItem]:
    """L4+ goods that are not flagged counterfeit, as plain items (what picks choose from)."""
    query = items_query().where(col(Product.tier).in_(_PICKABLE), col(Product.counterfeit_flag) == 0)
    return [item_from_row(row) for row in (await session.exec(query)).all()]


async def picks_data_version(*, session: AsyncSession) -> tuple[Any, ...]:
    """A cheap fingerprint of what picks are computed from (goods, grades, sales)."""
    products = (
        await session.exec(select(func.count(), func.max(Product.updated_at), func.max(Product.graded_at)))
    ).one()
    streamers = (await session.exec(select(func.count(), func.max(Streamer.updated_at)))).one()
    sales = (await session.exec(select(func.count(), func.sum(StreamerSale.gmv_30d)))).one()
    return (*products, *streamers, *sales)
