"""Demo prices come from realistic ranges per product line, brand and series (bot/data/demo_catalog.toml)."""

from __future__ import annotations

import re
import tomllib

import pytest

from bot.demo_data import (
    VOCABULARY_PATH,
    VocabularyError,
    demo_catalog_items,
    demo_products,
    parse_vocabulary,
)


def prices(pattern: str) -> list[float]:
    found = [row["price"] for row in demo_products() if re.search(pattern, row["title"])]
    assert found, pattern
    return found


@pytest.mark.parametrize(
    ("pattern", "low", "high"),
    [
        (r"(戴森|Dyson).*吹风机", 2000, 4000),
        (r"iPhone 16 Pro Max", 8000, 10000),
        (r"iPhone 16 Pro (?!Max)", 7000, 9000),
        (r"(戴森|Dyson).*吸尘器", 1900, 6500),
        (r"牙膏", 9, 50),
        (r"SK-II.*神仙水", 1000, 1900),
        (r"始祖鸟", 4000, 7600),
        (r"(小米|Xiaomi).*吹风机", 150, 400),
    ],
)
def test_demo_prices_are_plausible(pattern: str, low: float, high: float) -> None:
    assert all(low <= p <= high for p in prices(pattern)), (pattern, sorted(prices(pattern)))


def test_the_same_seed_gives_the_same_prices() -> None:
    assert [r["price"] for r in demo_products(300)] == [r["price"] for r in demo_products(300)]
    assert [r["price"] for r in demo_products(300, seed=1)] != [r["price"] for r in demo_products(300)]
    assert [i.price for i in demo_catalog_items(demo_products(50))] == [r["price"] for r in demo_products(50)]


def test_a_price_for_a_brand_or_series_the_line_lacks_is_an_error() -> None:
    with VOCABULARY_PATH.open("rb") as fh:
        data = tomllib.load(fh)
    line = next(line for line in data["products"] if line["noun"] == "吹风机")
    line["prices"]["戴森 V99"] = [1, 2]
    with pytest.raises(VocabularyError, match="戴森 V99"):
        parse_vocabulary(data)
    line["prices"] = {"戴森": [3000, 2000]}
    with pytest.raises(VocabularyError, match="low..high"):
        parse_vocabulary(data)
