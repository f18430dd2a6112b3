"""The catalog: products as plain `CatalogItem`s, one product with its indicators, lookups by sku and brand.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import CatalogItem
from core.grading import INDICATORS, Indicators
from storage.sql import chunks
from storage.tables import Category, Merchant, Product, TierChange

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
    Product.image_url,
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
        image_url=row[19] or None,
    )


def items_query():
    """Every product with its category and merchant, in the column order `item_from_row` reads."""
    return (
        select(*_ITEM_COLUMNS)  # type: ignore[call-overload]
        .join(Category, col(Category.id) == col(Product.category_id))
        .join(Merchant, col(Merchant.id) == col(Product.merchant_id))
    )


async def iter_catalog_items(*, session: AsyncSession, batch: int = 5000) -> AsyncIterator[CatalogItem]:
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


async def load_catalog_items(*, session: AsyncSession) -> list[CatalogItem]:
    return [item async for item in iter_catalog_items(session=session)]


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """One product as storage knows it: the public item, its indicators, owner and tags."""

    item: CatalogItem
    indicators: Indicators
    merchant_id: int
    tags: tuple[str, ...]


async def _record(where: Any, *, session: AsyncSession) -> ProductRecord | None:
    # One query: the item's columns, then the whole row for the indicators.
    row = (await session.exec(items_query().add_columns(Product).where(where))).first()
    if row is None:
        return None
    product: Product = row[-1]
    item = item_from_row(row)
    return ProductRecord(
        item=item, indicators=indicators_of(product), merchant_id=product.merchant_id, tags=item.tags
    )


async def get_product(sku: str, *, session: AsyncSession) -> ProductRecord | None:
    return await _record(col(Product.sku) == sku, session=session)


async def get_product_by_id(product_id: int, *, session: AsyncSession) -> ProductRecord | None:
    return await _record(col(Product.id) == product_id, session=session)


# `Indicators` takes the 11 indicators positionally in `INDICATORS` order (the fast way in a loop).
_indicators = cast(Callable[..., Indicators], Indicators)


def indicators_of(row: Any) -> Indicators:
    """The indicators of a stored product (a `Product` or a row with the same attribute names)."""
    return _indicators(
        *(float(getattr(row, name)) for name in INDICATORS),
        factory_verified=bool(row.factory_verified),
        counterfeit=bool(row.counterfeit_flag),
    )


async def any_sku(merchant_id: int | None = None, *, session: AsyncSession) -> str | None:
    """An example sku for usage messages: one of the merchant's own when there is a merchant."""
    query = select(Product.sku).where(Product.tier >= "L3", Product.counterfeit_flag == 0)
    if merchant_id is not None:
        own = (
            await session.exec(select(Product.sku).where(Product.merchant_id == merchant_id).limit(1))
        ).first()
        if own is not None:
            return own
    return (await session.exec(query.limit(1))).first()


async def catalog_version(*, session: AsyncSession) -> tuple:
    """A cheap fingerprint of the catalog: it changes whenever an import or a regrade writes."""
    products = (
        await session.exec(
            select(func.count(), func.max(Product.updated_at), func.max(Product.graded_at))  # type: ignore[call-overload]
        )
    ).one()
    last_change = (await session.exec(select(func.max(TierChange.id)))).one()
    return (*products, last_change)


@dataclass(frozen=True, slots=True)
class ProductRef:
    id: int
    merchant_id: int


async def products_by_sku(skus: Iterable[str], *, session: AsyncSession) -> dict[str, ProductRef]:
    """Each stored sku of `skus` with its product id and owner."""
    wanted = sorted(set(skus))
    out: dict[str, ProductRef] = {}
    for chunk in chunks(wanted):
        rows = (
            await session.exec(
                select(Product.sku, Product.id, Product.merchant_id).where(col(Product.sku).in_(chunk))
            )
        ).all()
        out.update({sku: ProductRef(int(pid or 0), int(mid)) for sku, pid, mid in rows})
    return out


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
