"""/watch alerts: told when a watched product (or a watched brand's product) reaches L5 or its commission
rises, after an import; never for the same rise twice, never for drops, never about hidden goods.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from jobs.after_import import after_catalog_change
from jobs.sender import Sender
from jobs.watch import alerts_for, check_watches
from storage import watches
from storage.importer import import_product_rows
from storage.tables import Product, User
from tests.factories import GOOD
from tests.fakes import FakeBotAPI
from tests.test_digest_helpers import put_user

FAN, BRAND_FAN, GONE = 11, 12, 13


def row(sku: str, *, brand: str, commission: float, quality: str = "good", **extra: Any) -> dict[str, Any]:
    """An import row; `quality` good grades L5, `fair` lower (factory not verified caps it at L4)."""
    values = dict(GOOD, commission_rate=commission)
    if quality == "fair":
        values.update(factory_verified=0)
    values.update(extra)
    return dict(
        sku=sku, title=f"{brand} {sku}", brand=brand, category="食品饮料", merchant="M1", price=39.0, **values
    )


@pytest.fixture
async def api():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api):
    async with api.make_bot() as client:
        yield client


@pytest.fixture
async def watching(services, bot):
    """FAN watches product S-1; BRAND_FAN watches brand 三只松鼠; GONE (inactive) watches S-1 too."""
    services.sender = Sender(bot, rate_per_second=30, backoff_base=0.05)
    report = await import_product_rows(
        services.sessionmaker,
        [
            row("S-1", brand="良品铺子", commission=0.15, quality="fair"),
            row("S-2", brand="三只松鼠", commission=0.10, quality="fair"),
        ],
    )
    assert not report.errors
    async with services.sessionmaker() as session:
        await put_user(session, FAN)
        await put_user(session, BRAND_FAN, language="en")
        await put_user(session, GONE, active=False)
        tiers = dict((await session.exec(select(Product.sku, Product.tier))).all())
        assert tiers == {"S-1": "L4", "S-2": "L4"}, tiers
        await watches.add_watch(FAN, "product", "S-1", language="zh", session=session)
        await watches.add_watch(GONE, "product", "S-1", language="zh", session=session)
        await watches.add_watch(BRAND_FAN, "brand", "三只松鼠", language="en", session=session)
        await session.commit()
    return services


async def reimport(services, bot, *rows: dict[str, Any]) -> None:
    report = await import_product_rows(services.sessionmaker, rows)
    assert not report.errors
    await after_catalog_change(bot, services, [])


def texts(api: FakeBotAPI, chat_id: int) -> list[str]:
    return [c.params["text"] for c in api.sent(chat_id)]


async def test_reaching_l5_and_a_commission_rise_are_told_once(watching, bot, api) -> None:
    services = watching
    await reimport(services, bot, row("S-1", brand="良品铺子", commission=0.15),  # now L5
                   row("S-2", brand="三只松鼠", commission=0.12, quality="fair"))  # fmt: skip
    [fan] = texts(api, FAN)
    assert "S-1" in fan and "L5" in fan and "升到了" in fan
    [brand_fan] = texts(api, BRAND_FAN)
    assert "S-2" in brand_fan and "10.0% → 12.0%" in brand_fan and "commission up" in brand_fan
    assert texts(api, GONE) == []  # inactive: not written to

    # The same catalog again: nothing new to tell.
    await reimport(services, bot, row("S-1", brand="良品铺子", commission=0.15),
                   row("S-2", brand="三只松鼠", commission=0.12, quality="fair"))  # fmt: skip
    assert len(api.sent()) == 2


async def test_drops_are_silent_and_a_rise_after_a_drop_is_told(watching, bot, api) -> None:
    services = watching
    await reimport(services, bot, row("S-2", brand="三只松鼠", commission=0.08, quality="fair"))
    assert api.sent() == []
    await reimport(services, bot, row("S-2", brand="三只松鼠", commission=0.09, quality="fair"))
    [told] = texts(api, BRAND_FAN)
    assert "8.0% → 9.0%" in told


async def test_a_new_product_of_a_watched_brand_is_told_only_if_it_arrives_at_l5(watching, bot, api) -> None:
    services = watching
    await reimport(services, bot, row("S-3", brand="三只松鼠", commission=0.2, quality="fair"))
    assert api.sent() == []  # a baseline, silently
    await reimport(services, bot, row("S-4", brand="三只松鼠", commission=0.2))
    [told] = texts(api, BRAND_FAN)
    assert "S-4" in told and "reached L5" in told


async def test_hidden_goods_are_never_told(watching, bot, api) -> None:
    services = watching
    await reimport(
        services, bot, row("S-2", brand="三只松鼠", commission=0.3, quality="fair", counterfeit_flag=1)
    )
    assert api.sent() == []


async def test_a_blocked_watcher_becomes_inactive(watching, bot, api) -> None:
    services = watching
    api.fail("sendMessage", 403, times=None, chat_id=FAN)
    await reimport(services, bot, row("S-1", brand="良品铺子", commission=0.2, quality="fair"))
    async with services.sessionmaker() as session:
        user = await session.get(User, FAN)
    assert user is not None and not user.active


async def test_check_watches_with_nothing_watched_sends_nothing(services, bot, api) -> None:
    services.sender = Sender(bot, rate_per_second=30)
    report = await check_watches(bot, services)
    assert report.checked == 0 and api.sent() == []


def test_alerts_for_is_pure() -> None:
    base = dict(watch_id=1, telegram_id=5, language="zh", active=True, kind="product", sku="X", title="t",
                brand="b", counterfeit=False, state_id=1)  # fmt: skip
    same = watches.WatchedProduct(**base, tier="L4", commission_rate=0.1, last_tier="L4", last_commission=0.1)
    up = watches.WatchedProduct(**base, tier="L5", commission_rate=0.2, last_tier="L4", last_commission=0.1)
    stay = watches.WatchedProduct(**base, tier="L5", commission_rate=0.1, last_tier="L5", last_commission=0.1)
    assert alerts_for([same, stay]) == []
    assert [a.kind for a in alerts_for([up, up])] == ["l5", "commission"]  # once each, even if watched twice
