"""Loads the deterministic demo catalog (bot/demo_data.py) through the regular importer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.demo_data import demo_products, demo_streamers
from bot.import_report import error_list
from storage.importer import import_product_rows, import_streamer_rows


async def seed_demo(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """Import the demo products and streamers; returns (products, streamer rows). Idempotent (upserts)."""

    products = demo_products()
    streamers = demo_streamers()
    p = await import_product_rows(sessionmaker, products)
    s = await import_streamer_rows(sessionmaker, streamers)
    for report in (p, s):
        if report.errors:
            raise RuntimeError("the demo data failed validation:\n" + error_list(report, "en", limit=10))
    return p.rows_valid, s.rows_valid
