"""The deterministic demo catalog and streamers (bot.demo_data)."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from datetime import date

import pytest

from bot.demo_data import (
    PRODUCT_COLUMNS,
    STREAMER_COLUMNS,
    VOCABULARY_PATH,
    VocabularyError,
    demo_catalog_items,
    demo_merchants,
    demo_products,
    demo_streamers,
    parse_vocabulary,
    vocabulary,
)
from core.catalog import TIERS


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return demo_products()


@pytest.fixture(scope="module")
def streamers() -> list[dict]:
    return demo_streamers()


def test_same_seed_same_rows(rows: list[dict], streamers: list[dict]) -> None:
    assert demo_products() == rows
    assert demo_streamers() == streamers
    assert demo_products(n=200, seed=1) != demo_products(n=200, seed=2)


def test_products_have_exactly_the_import_columns(rows: list[dict]) -> None:
    assert len(rows) >= 3000
    for row in rows:
        assert tuple(row) == PRODUCT_COLUMNS
    assert len({r["sku"] for r in rows}) == len(rows)


def test_product_values_are_plausible(rows: list[dict]) -> None:
    for r in rows:
        assert r["title"].strip() and r["brand"].strip() and r["merchant"].strip()
        assert r["price"] > 0
        assert 0 <= r["commission_rate"] <= 1 and 0 <= r["refund_rate"] <= 1 and 0 <= r["dispute_rate"] <= 1
        assert 0 <= r["brand_awareness"] <= 100 and 0 <= r["shop_rating"] <= 5
        assert {r["brand_authorized"], r["factory_verified"], r["counterfeit_flag"]} <= {0, 1}
        assert date.fromisoformat(r["listed_at"])
        assert r["image_url"].startswith("https://")
        tags = r["tags"].split(";") if r["tags"] else []
        if r["category"] in ("跨境", "本地生活", "虚拟"):
            assert r["category"] in tags


def test_categories_and_brands(rows: list[dict]) -> None:
    categories = Counter(r["category"] for r in rows)
    assert len(categories) >= 12
    assert {"跨境", "本地生活", "虚拟"} <= set(categories)
    assert min(categories.values()) >= 50
    brands = Counter(r["brand"] for r in rows)
    latin = {b for b in brands if re.search(r"[A-Za-z]", b)}
    assert {"Dyson/戴森", "Philips/飞利浦", "L'Oréal/欧莱雅", "Nike/耐克", "Apple/苹果"} <= latin
    assert "ANESSA/安热沙" in latin
    assert sum(1 for n in brands.values() if n >= 20) >= 20  # many products per brand
    merchants = {r["merchant"] for r in rows}
    assert 20 <= len(merchants) <= 80
    codes = demo_merchants()
    assert len(set(codes.values())) == len(codes)  # a short code per shop, the prefix of its skus
    assert all(r["sku"].startswith(codes[r["merchant"]] + "-") for r in rows)


def test_titles_are_varied(rows: list[dict]) -> None:
    titles = [r["title"] for r in rows]
    assert len(set(titles)) >= 0.95 * len(titles)
    toothpaste = [t for t in titles if "牙膏" in t]
    assert len(toothpaste) >= 15 and len(set(toothpaste)) == len(toothpaste)
    assert any(t.startswith("Dyson") for t in titles) and any("戴森" in t for t in titles)


def test_every_tier_and_some_counterfeits(rows: list[dict]) -> None:
    items = demo_catalog_items(rows)
    assert [it.id for it in items] == list(range(1, len(rows) + 1))
    tiers = Counter(it.tier for it in items)
    assert set(tiers) == set(TIERS)
    assert min(tiers.values()) >= 0.04 * len(items)  # spread, not a token L5
    fakes = [it for it in items if it.counterfeit]
    assert 5 <= len(fakes) <= 100
    assert all(it.tier == "L0" for it in fakes)
    dimensions = {"brand", "price", "distribution", "service", "sales"}
    assert all(set(it.dimensions) == dimensions for it in items[:50])


def test_streamers(streamers: list[dict]) -> None:
    for row in streamers:
        assert tuple(row) == STREAMER_COLUMNS
        assert row["gmv_30d"] >= 0
    by_streamer: dict[int, list[str]] = {}
    for row in streamers:
        by_streamer.setdefault(row["telegram_id"], []).append(row["category"])
    assert len(by_streamer) >= 200
    assert all(len(cats) == len(set(cats)) for cats in by_streamer.values())  # one row per category
    sizes = Counter(min(len(cats), 5) for cats in by_streamer.values())
    assert sizes[1] >= 10  # pure specialists (others have a small second category)
    assert sizes[2] + sizes[3] >= 60  # two or three categories
    assert sizes[5] >= 60  # generalists
    assert len({r["name"] for r in streamers}) == len(by_streamer)


def test_the_vocabulary_file_names_only_what_it_defines() -> None:
    with VOCABULARY_PATH.open("rb") as fh:
        data = tomllib.load(fh)
    assert parse_vocabulary(data).templates == vocabulary().templates
    data["products"][0]["brands"] = {"无名牌": []}
    with pytest.raises(VocabularyError, match="无名牌"):
        parse_vocabulary(data)
