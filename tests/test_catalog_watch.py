"""A catalog changed by another process (a CLI import) reaches the running bot: index, alerts."""

from __future__ import annotations

from bot.demo_data import demo_products
from core.search import search
from jobs.catalog_watch import check_catalog
from storage.importer import import_product_rows
from storage.tables import Merchant, User
from tests.harness import texts

MERCHANT_USER = 5151


async def test_a_cli_import_is_noticed_searched_and_alerted_once(chat, services) -> None:
    rows = [
        r for r in demo_products() if r["counterfeit_flag"] == 0 and r["merchant"] == "云南白药官方旗舰店"
    ][:3]
    assert rows, "the demo catalog has this shop"
    report = await import_product_rows(services.sessionmaker, rows)
    assert report.written
    await services.catalog.refresh(services.sessionmaker)
    assert await check_catalog(chat.bot, services) is False, "nothing changed since the index was built"

    async with services.sessionmaker() as session:
        from sqlmodel import select

        merchant = (await session.exec(select(Merchant).where(Merchant.code == rows[0]["merchant"]))).one()
        session.add(User(telegram_id=MERCHANT_USER, merchant_id=merchant.id))
        await session.commit()

    # Another process imports: one product turns out counterfeit (its tier drops to L0), one is new.
    flagged = dict(rows[0], counterfeit_flag=1)
    new = dict(rows[1], sku="NEW-ZZ-1", title="云南白药 冰川薄荷 限定款 牙膏 99g")
    await import_product_rows(services.sessionmaker, [flagged, new])
    assert not search(services.catalog.current, "冰川薄荷 限定款").hits, "the live index is still the old one"

    before = len(chat.session.requests)
    assert await check_catalog(chat.bot, services) is True
    hits = search(services.catalog.current, "冰川薄荷 限定款").hits
    assert hits and hits[0].item.sku == "NEW-ZZ-1"
    alerts = [r for r in chat.session.requests[before:] if getattr(r, "chat_id", None) == MERCHANT_USER]
    assert len(alerts) == 1 and rows[0]["sku"] in texts(alerts)[0]

    assert await check_catalog(chat.bot, services) is False
    again = [r for r in chat.session.requests[before:] if getattr(r, "chat_id", None) == MERCHANT_USER]
    assert len(again) == 1, "told once"
