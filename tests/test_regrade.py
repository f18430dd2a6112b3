"""Regrading from stored indicators after a policy change, and the /grade helper."""

from __future__ import annotations

import tomllib

import pytest
from sqlmodel import select

from bot.import_report import regrade_summary
from core.policy import DEFAULT_POLICY_PATH, default_policy, parse_policy
from storage.importer import import_product_rows
from storage.regrade import grade_of, moved_dimension, regrade_all
from storage.tables import Product, TierChange
from tests.test_import import product


def policy_with(**changes):
    with open(DEFAULT_POLICY_PATH, "rb") as fh:
        data = tomllib.load(fh)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = data
        for key in parents:
            target = target[key]
        target[leaf] = value
    return parse_policy(data)


CATALOG = [
    product("P-L4"),  # about 80.7: L4
    product("P-CHEAP", lowest_price_ratio="1.3", price_index="0.6"),  # strong price index, weak channel ratio
    product("P-LOW", brand_awareness="10", gmv_30d="1000", conversion_rate="0.005"),
]


async def stored(db) -> dict[str, Product]:
    async with db.sessionmaker() as session:
        return {p.sku: p for p in (await session.exec(select(Product))).all()}


async def test_regrade_after_a_policy_change_records_history(db) -> None:
    await import_product_rows(db.sessionmaker, CATALOG)
    before = await stored(db)
    nothing = await regrade_all(db.sessionmaker)
    assert (nothing.products, nothing.regraded, nothing.tier_changes) == (3, 0, [])

    # Price judged on the channel ratio alone: P-CHEAP's price dimension falls from 72 to 10.
    policy = policy_with(
        version="test-2", indicators__price__price_index=0.0, indicators__price__lowest_price_ratio=1.0
    )
    report = await regrade_all(db.sessionmaker, policy=policy, reason="policy")
    assert report.products == 3 and report.regraded == 3  # every policy_version changed
    after = await stored(db)
    assert all(p.policy_version == "test-2" for p in after.values())
    moved = {c.sku: c for c in report.tier_changes}
    assert "P-CHEAP" in moved
    for sku, change in moved.items():
        assert (change.old_tier, change.new_tier) == (before[sku].tier, after[sku].tier)
        assert change.old_tier != change.new_tier
        assert change.product_id == before[sku].id and change.merchant_id == before[sku].merchant_id
    cheap = moved["P-CHEAP"]
    assert cheap.moved_dimension == "price"
    assert cheap.moved_by == pytest.approx(after["P-CHEAP"].dim_price - before["P-CHEAP"].dim_price, abs=0.01)
    assert cheap.moved_by is not None and cheap.moved_by < 0
    unmoved = [sku for sku in before if sku not in moved]
    assert all(before[s].tier == after[s].tier for s in unmoved)

    async with db.sessionmaker() as session:
        history = (await session.exec(select(TierChange).where(TierChange.reason == "policy"))).all()
    assert sorted((h.product_id, h.old_tier, h.new_tier) for h in history) == sorted(
        (c.product_id, c.old_tier, c.new_tier) for c in report.tier_changes
    )
    again = await regrade_all(db.sessionmaker, policy=policy)
    assert (again.regraded, again.tier_changes) == (0, [])


async def test_raising_the_thresholds_moves_tiers_without_a_dimension(db) -> None:
    await import_product_rows(db.sessionmaker, CATALOG[:1])
    policy = policy_with(version="strict", tiers__L4=82, tiers__L5=90)
    report = await regrade_all(db.sessionmaker, policy=policy, batch_size=1)
    [change] = report.tier_changes
    assert (change.old_tier, change.new_tier, change.moved_dimension, change.moved_by) == (
        "L4",
        "L3",
        None,
        None,
    )
    assert "1 tiers changed" in regrade_summary(report, "en")


async def test_grade_of_loads_and_grades_one_product(db) -> None:
    await import_product_rows(db.sessionmaker, [product("SKU-9", tags="新品")])
    async with db.sessionmaker() as session:
        found = await grade_of(" ＳＫＵ-9 ", session=session)
        missing = await grade_of("nope", session=session)
    assert missing is None
    assert found is not None
    item, g = found
    assert item.sku == "SKU-9"
    assert (g.tier, g.policy_version) == (item.tier, default_policy().version)
    assert g.score == pytest.approx(item.score)
    assert "新品" in g.badges


def test_moved_dimension_picks_the_largest_signed_move() -> None:
    assert moved_dimension([50, 50, 50, 50, 50], [55, 30, 50, 52, 50]) == ("price", -20.0)
    assert moved_dimension([50] * 5, [50] * 5) == (None, None)
    gates_ok = {"counterfeit": True, "factory_verified": True, "brand_authorized": True}
    fake = {**gates_ok, "counterfeit": False}
    assert moved_dimension([50] * 5, [60] * 5, gates_ok, fake) == ("counterfeit", None)
    unverified = {**gates_ok, "factory_verified": False}
    assert moved_dimension([50] * 5, [50] * 5, gates_ok, unverified) == ("factory_verified", None)
