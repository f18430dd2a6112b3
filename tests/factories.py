"""Small builders for test data: graded products straight into a session."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.grading import Indicators, grade
from storage.tables import Category, Merchant, Product, User

GOOD = dict(
    brand_authorized=1,
    brand_awareness=90,
    price_index=0.8,
    lowest_price_ratio=0.95,
    commission_rate=0.3,
    active_streamers_30d=300,
    shop_rating=4.9,
    refund_rate=0.01,
    dispute_rate=0.001,
    gmv_30d=2_000_000,
    conversion_rate=0.08,
    factory_verified=1,
    counterfeit_flag=0,
)
MIDDLING = dict(
    GOOD,
    brand_awareness=60,
    price_index=1.1,
    commission_rate=0.12,
    refund_rate=0.061,
    dispute_rate=0.012,
    gmv_30d=200_000,
    conversion_rate=0.03,
    factory_verified=0,
)


async def get_or_add(session: AsyncSession, model, **where) -> Any:
    """The Category (by name) or Merchant (by code) with these values, added when missing."""
    row = (await session.exec(select(model).filter_by(**where))).first()
    if row is None:
        row = model(**where) if model is Category else model(**where, name=where.get("code", ""))
        session.add(row)
        await session.flush()
    return row


async def add_product(
    session: AsyncSession,
    sku: str,
    *,
    title: str = "测试商品",
    brand: str = "测试",
    category: str = "美妆个护",
    merchant: str = "M1",
    price: float = 59.0,
    tags: str = "",
    **indicators: float,
) -> Product:
    values = dict(GOOD, **indicators)
    ind = Indicators.from_mapping(values)
    g = grade(ind, tags=tuple(x for x in tags.split(";") if x))
    cat = await get_or_add(session, Category, name=category)
    mer = await get_or_add(session, Merchant, code=merchant)
    product = Product(
        sku=sku,
        title=title,
        brand=brand,
        category_id=cat.id,
        merchant_id=mer.id,
        price=price,
        tags=tags,
        **{k: v for k, v in values.items()},
        dim_brand=g.dimensions["brand"],
        dim_price=g.dimensions["price"],
        dim_distribution=g.dimensions["distribution"],
        dim_service=g.dimensions["service"],
        dim_sales=g.dimensions["sales"],
        score=g.score,
        tier=g.tier,
        badges=";".join(g.badges),
    )
    session.add(product)
    await session.flush()
    return product


async def bind_merchant(session: AsyncSession, telegram_id: int, merchant_code: str) -> None:
    merchant = (await session.exec(select(Merchant).where(Merchant.code == merchant_code))).one()
    session.add(User(telegram_id=telegram_id, merchant_id=merchant.id, name="merchant"))
    await session.flush()


# Indicator sets that grade to a known tier under the default policy.
_TOP = dict(
    brand_authorized=1,
    brand_awareness=95,
    price_index=0.7,
    lowest_price_ratio=0.95,
    commission_rate=0.3,
    active_streamers_30d=600,
    shop_rating=4.9,
    refund_rate=0.01,
    dispute_rate=0.002,
    gmv_30d=2_000_000,
    conversion_rate=0.08,
    factory_verified=1,
    counterfeit_flag=0,
)
_MID = dict(
    _TOP,
    brand_awareness=60,
    price_index=1.0,
    lowest_price_ratio=1.0,
    commission_rate=0.15,
    active_streamers_30d=60,
    shop_rating=4.5,
    refund_rate=0.05,
    dispute_rate=0.01,
    gmv_30d=200_000,
    conversion_rate=0.03,
    factory_verified=0,
)
_LOW = dict(
    brand_authorized=0,
    brand_awareness=5,
    price_index=1.8,
    lowest_price_ratio=1.4,
    commission_rate=0.02,
    active_streamers_30d=1,
    shop_rating=3.2,
    refund_rate=0.25,
    dispute_rate=0.06,
    gmv_30d=500,
    conversion_rate=0.002,
    factory_verified=0,
    counterfeit_flag=0,
)


def product_row(
    sku: str,
    title: str,
    *,
    brand: str = "云朵",
    category: str = "个护",
    merchant: str = "M1",
    price: float = 59.0,
    grade: str = "top",
    **extra: Any,
) -> dict[str, Any]:
    """One import row; `grade` is top (L5), mid (L3/L4) or low (L0)."""
    indicators = {"top": _TOP, "mid": _MID, "low": _LOW}[grade]
    return {
        "sku": sku,
        "title": title,
        "brand": brand,
        "category": category,
        "merchant": merchant,
        "price": price,
        **indicators,
        **extra,
    }


async def import_rows(services, rows: list[dict[str, Any]]) -> None:
    """Load import rows through the real importer and refresh the live search index."""
    from bot.import_report import error_list
    from storage.importer import import_product_rows

    report = await import_product_rows(services.sessionmaker, rows)
    assert not report.errors, error_list(report, "en")
    await services.catalog.refresh(services.sessionmaker)
