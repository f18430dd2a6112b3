"""The pure core of 达人匹配 and 专属佣金: GMV bands, candidate ranking, picks with a commission override."""

from __future__ import annotations

import pytest

from core.catalog import CatalogItem
from core.match import Candidate, gmv_band, rank_candidates, seller_mix, similarity
from core.picks import Gap, RankedCatalog, choose_picks


@pytest.mark.parametrize(
    ("gmv", "band"),
    [
        (0, "none"),
        (-5, "none"),
        (float("nan"), "none"),
        (9_999, "<10k"),
        (10_000, "10k-50k"),
        (123_456, "50k-200k"),
        (999_999, "200k-1m"),
        (1_000_000, "1m-5m"),
        (8e6, "5m+"),
    ],
)
def test_gmv_band(gmv: float, band: str) -> None:
    assert gmv_band(gmv) == band


def test_similarity_is_cosine_and_zero_for_empty() -> None:
    assert similarity({"a": 1.0}, {"a": 0.5}) == pytest.approx(1.0)
    assert similarity({"a": 1.0}, {"b": 1.0}) == 0.0
    assert similarity({}, {"a": 1.0}) == 0.0


def test_only_gaps_in_the_category_and_like_the_sellers_first() -> None:
    reference = {"美妆": 0.5, "食品": 0.3, "家居": 0.2}
    sellers = seller_mix([{"美妆": 0.6, "食品": 0.4}, {"美妆": 0.4, "食品": 0.6}])
    candidates = [
        Candidate(1, {"家居": 1.0}, reference, 5_000),  # lacks 食品, unlike the sellers
        Candidate(2, {"美妆": 1.0}, reference, 70_000),  # lacks 食品, like the sellers
        Candidate(3, {"食品": 1.0}, reference, 1e6),  # already sells 食品 beyond the reference: no gap
        Candidate(4, {}, reference, 0),  # nothing known: nothing to show
        Candidate(5, {"美妆": 1.0}, reference, 0),  # excluded (muted)
    ]
    found = rank_candidates(candidates, "食品", sellers, exclude={5})
    assert [m.telegram_id for m in found] == [2, 1]
    assert found[0].gmv_band == "50k-200k" and found[0].mix == (("美妆", 1.0),)
    assert found[0].gap == pytest.approx(0.3)
    assert rank_candidates(candidates, "食品", sellers, limit=1)[0].telegram_id == 2


def _item(sku: str, tier: str, score: float, rate: float = 0.2) -> CatalogItem:
    return CatalogItem(0, sku, sku, "b", "食品", "m", 10.0, rate, tier, score)


def test_an_exclusive_rate_lifts_its_product_within_its_tier_only() -> None:
    catalog = RankedCatalog([_item("L5-A", "L5", 95), _item("L4-A", "L4", 85), _item("L4-B", "L4", 80)])
    gaps = [Gap("食品", 0.0, 0.5)]
    public = choose_picks(gaps, catalog, count=3, per_category=3)
    assert [p.item.sku for p in public] == ["L5-A", "L4-A", "L4-B"]
    assert all(p.commission is None and p.rate == 0.2 for p in public)
    mine = choose_picks(gaps, catalog, count=3, per_category=3, commission={"L4-B": 0.35})
    assert [p.item.sku for p in mine] == ["L5-A", "L4-B", "L4-A"]
    assert mine[1].commission == 0.35 and mine[1].rate == 0.35 and mine[2].commission is None
    # With a per-category limit of two, the offer decides which L4 makes the cut.
    assert [p.item.sku for p in choose_picks(gaps, catalog, count=3, per_category=2)] == ["L5-A", "L4-A"]
    two = choose_picks(gaps, catalog, count=3, per_category=2, commission={"L4-B": 0.35})
    assert [p.item.sku for p in two] == ["L5-A", "L4-B"]


def test_the_lazy_merge_equals_a_full_sort_and_plain_mappings_agree() -> None:
    items = [_item(f"{tier}-{n}", tier, 100 - n) for tier in ("L5", "L4") for n in range(6)]
    rates = {"L4-5": 0.3, "L4-2": 0.4, "L5-4": 0.25, "NOT-THERE": 0.9}
    gaps = [Gap("食品", 0.0, 0.5)]
    ranked = choose_picks(gaps, RankedCatalog(items), count=12, per_category=12, commission=rates)
    plain = choose_picks(gaps, {"食品": items}, count=12, per_category=12, commission=rates)
    expected = ["L5-4", *[f"L5-{n}" for n in (0, 1, 2, 3, 5)], "L4-2", "L4-5", "L4-0", "L4-1", "L4-3", "L4-4"]
    assert [p.item.sku for p in ranked] == expected == [p.item.sku for p in plain]
    # Skipped goods (recently sent) are walked past in the merged order too.
    later = choose_picks(
        gaps,
        RankedCatalog(items),
        count=2,
        per_category=12,
        commission=rates,
        recent_skus={"L5-4", "L4-2"},
        skip=5,
    )
    assert [p.item.sku for p in later] == ["L4-5", "L4-0"]
