"""The engine: SQLite pragmas read back through the async engine; both backends migrate and round-trip."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlmodel import select

from storage.tables import Category, DigestDelivery, Merchant, Product, User


async def test_sqlite_pragmas_are_set_through_the_async_engine(sqlite_db) -> None:
    async with sqlite_db.engine.connect() as conn:
        journal = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        fks = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
    assert journal.lower() == "wal"
    assert busy >= 1000
    assert fks == 1


async def test_round_trip_and_constraints(db) -> None:
    async with db.sessionmaker() as session:
        merchant = Merchant(code="M001", name="云南白药官方旗舰店")
        category = Category(name="美妆个护")
        session.add_all([merchant, category])
        await session.flush()
        session.add(
            Product(
                sku="SKU-1",
                title="云南白药 牙膏 180g",
                brand="云南白药",
                category_id=category.id,
                merchant_id=merchant.id,
                price=39.9,
                brand_authorized=1,
                brand_awareness=80,
                price_index=1.0,
                lowest_price_ratio=1.0,
                commission_rate=0.2,
                active_streamers_30d=30,
                shop_rating=4.8,
                refund_rate=0.02,
                dispute_rate=0.001,
                gmv_30d=500000,
                conversion_rate=0.05,
                tier="L4",
            )
        )
        session.add(User(telegram_id=9_000_000_000, name="big id"))  # beyond 32 bits
        session.add(DigestDelivery(telegram_id=9_000_000_000, local_date=date(2026, 11, 24)))
        await session.commit()
    async with db.sessionmaker() as session:
        product = (await session.exec(select(Product).where(Product.sku == "SKU-1"))).one()
        user = (await session.exec(select(User))).one()
    assert product.title == "云南白药 牙膏 180g" and product.tier == "L4"
    assert user.telegram_id == 9_000_000_000 and user.created_at.tzinfo is not None


async def test_one_digest_row_per_streamer_and_day(db) -> None:
    from sqlalchemy.exc import IntegrityError

    async with db.sessionmaker() as session:
        session.add(DigestDelivery(telegram_id=1, local_date=date(2026, 11, 24)))
        await session.commit()
    async with db.sessionmaker() as session:
        session.add(DigestDelivery(telegram_id=1, local_date=date(2026, 11, 24)))
        try:
            await session.commit()
            raised = False
        except IntegrityError:
            raised = True
    assert raised


async def test_foreign_keys_are_enforced(db) -> None:
    from sqlalchemy.exc import IntegrityError

    async with db.sessionmaker() as session:
        session.add(User(telegram_id=5, merchant_id=424242))
        try:
            await session.commit()
            raised = False
        except IntegrityError:
            raised = True
    assert raised
