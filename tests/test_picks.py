"""Picks: mixes, the peer reference, gaps, choosing picks and their reasons (plain values, no I/O)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import percent_text, pick_reason
from core.catalog import TIERS, CatalogItem
from core.picks import (
    Gap,
    PeerIndex,
    Pick,
    RankedCatalog,
    Reference,
    choose_picks,
    gaps,
    mix_from_choice,
    mix_from_sales,
    picks_for,
    platform_mix,
    reference_mix,
)

BEAUTY, FOOD, HOME, APPAREL, BABY = "美妆个护", "食品饮料", "家居百货", "服饰内衣", "母婴玩具"
CATEGORIES = (BEAUTY, FOOD, HOME, APPAREL, BABY)


def item(
    sku: str, category: str, tier: str = "L4", score: float = 80.0, counterfeit: bool = False
) -> CatalogItem:
    return CatalogItem(
        id=abs(hash(sku)) % 10**9,
        sku=sku,
        title=f"商品 {sku}",
        brand="品牌",
        category=category,
        merchant="商家",
        price=99.0,
        commission_rate=0.2,
        tier=tier,
        score=score,
        counterfeit=counterfeit,
    )


def by_category(items: list[CatalogItem]) -> dict[str, list[CatalogItem]]:
    grouped: dict[str, list[CatalogItem]] = {}
    for product in items:
        grouped.setdefault(product.category, []).append(product)
    return grouped


@pytest.fixture
def catalog() -> dict[str, list[CatalogItem]]:
    items = []
    for category in CATEGORIES:
        code = CATEGORIES.index(category)
        items += [
            item(f"{code}-L5a", category, "L5", 90),
            item(f"{code}-L5b", category, "L5", 88),
            item(f"{code}-L4a", category, "L4", 80),
            item(f"{code}-L4b", category, "L4", 79),
            item(f"{code}-L3", category, "L3", 99),  # high score, too low a tier
            item(f"{code}-fake", category, "L5", 99, counterfeit=True),
        ]
    return by_category(items)


# ----------------------------------------------------------------------------- mixes


def test_mix_from_sales_is_shares_ignoring_zero_and_negative() -> None:
    assert mix_from_sales({BEAUTY: 300.0, FOOD: 100.0, HOME: 0.0, BABY: -50.0}) == {BEAUTY: 0.75, FOOD: 0.25}
    assert mix_from_sales({}) == {}
    assert mix_from_sales({BEAUTY: 0.0, FOOD: -1.0, HOME: float("nan")}) == {}


@given(st.dictionaries(st.sampled_from(CATEGORIES), st.floats(-1e9, 1e9, allow_nan=False)))
def test_mix_from_sales_sums_to_one_over_positive_categories(sales: dict[str, float]) -> None:
    mix = mix_from_sales(sales)
    assert set(mix) <= {category for category, amount in sales.items() if amount > 0}
    if mix:
        assert sum(mix.values()) == pytest.approx(1.0)
        assert all(share > 0 for share in mix.values())


def test_mix_from_choice_is_equal_shares() -> None:
    assert mix_from_choice([BEAUTY, FOOD, BEAUTY, "", HOME, BABY]) == dict.fromkeys(
        [BEAUTY, FOOD, HOME, BABY], 0.25
    )
    assert mix_from_choice([]) == {}


def test_platform_mix_is_gmv_weighted_share() -> None:
    sales = [{BEAUTY: 900.0}, {FOOD: 50.0, BEAUTY: 50.0}]
    assert platform_mix(sales) == {BEAUTY: 0.95, FOOD: 0.05}
    assert platform_mix([]) == {}


# ----------------------------------------------------------------------------- gaps


def test_gaps_are_where_the_reference_exceeds_own_biggest_first_ties_by_name() -> None:
    own = {BEAUTY: 0.6, FOOD: 0.3, HOME: 0.05, BABY: 0.05}
    reference = {BEAUTY: 0.3, FOOD: 0.3, HOME: 0.2, APPAREL: 0.1, "宠物用品": 0.1}
    assert gaps(own, reference) == [
        Gap(HOME, 0.05, 0.2),
        Gap("宠物用品", 0.0, 0.1),  # a tie (0.1 each): by category name
        Gap(APPAREL, 0.0, 0.1),
    ]
    assert "宠物用品" < APPAREL


def test_a_single_category_streamer_has_no_gap_in_it_even_with_float_noise() -> None:
    reference = {BEAUTY: 1.0000000000000002}
    assert gaps({BEAUTY: 1.0}, reference) == []


@given(
    st.dictionaries(st.sampled_from(CATEGORIES), st.floats(0, 1)),
    st.dictionaries(st.sampled_from(CATEGORIES), st.floats(0, 1)),
)
def test_gaps_properties(own: dict[str, float], reference: dict[str, float]) -> None:
    found = gaps(own, reference)
    assert {gap.category for gap in found} == {
        category for category, share in reference.items() if share - own.get(category, 0.0) > 1e-9
    }
    differences = [gap.difference for gap in found]
    assert differences == sorted(differences, reverse=True)
    assert all(gap.reference_share > gap.own_share for gap in found)


# ----------------------------------------------------------------------------- choose_picks


def test_picks_are_l4_plus_l5_first_never_counterfeit_at_most_two_per_category(catalog) -> None:
    found = [Gap(FOOD, 0.0, 0.4), Gap(HOME, 0.1, 0.3), Gap(BABY, 0.0, 0.1)]
    picks = choose_picks(found, catalog)
    assert [pick.item.sku for pick in picks] == ["1-L5a", "2-L5a", "4-L5a", "1-L5b", "2-L5b"]
    assert all(pick.source == "peers" for pick in picks)
    assert picks[0] == Pick(catalog[FOOD][0], FOOD, 0.0, 0.4, "peers")


def test_round_robin_spreads_picks_over_categories(catalog) -> None:
    found = [Gap(category, 0.0, 0.5 - 0.1 * n) for n, category in enumerate(CATEGORIES)]
    picks = choose_picks(found, catalog, count=5)
    assert [pick.category for pick in picks] == list(CATEGORIES)


def test_l5_comes_before_l4_within_the_result(catalog) -> None:
    only_l4 = {FOOD: [item("f1", FOOD, "L4", 84), item("f2", FOOD, "L4", 83)]}
    mixed = {**only_l4, HOME: [item("h1", HOME, "L5", 86)]}
    picks = choose_picks([Gap(FOOD, 0, 0.5), Gap(HOME, 0, 0.1)], mixed, count=3)
    assert [pick.item.sku for pick in picks] == ["h1", "f1", "f2"]


def test_recent_and_not_interested_are_left_out(catalog) -> None:
    picks = choose_picks([Gap(FOOD, 0.0, 0.4)], catalog, recent_skus={"1-L5a"}, not_interested=["1-L5b"])
    assert [pick.item.sku for pick in picks] == ["1-L4a", "1-L4b"]


def test_skip_gives_the_next_set_and_runs_out(catalog) -> None:
    found = [Gap(FOOD, 0.0, 0.4), Gap(HOME, 0.1, 0.3)]
    first = choose_picks(found, catalog, count=2)
    second = choose_picks(found, catalog, count=2, skip=2)
    third = choose_picks(found, catalog, count=2, skip=4)
    assert [pick.item.sku for pick in first] == ["1-L5a", "2-L5a"]
    assert [pick.item.sku for pick in second] == ["1-L5b", "2-L5b"]
    assert third == []  # two categories x two each: exhausted, no wrapping


def test_tier_and_score_ties_order_by_sku() -> None:
    catalog = {FOOD: [item("b", FOOD, "L5", 90), item("a", FOOD, "L5", 90), item("c", FOOD, "L5", 91)]}
    picks = choose_picks([Gap(FOOD, 0, 1)], catalog, per_category=3)
    assert [pick.item.sku for pick in picks] == ["c", "a", "b"]


def test_a_category_missing_from_the_catalog_is_skipped(catalog) -> None:
    picks = choose_picks([Gap("不存在", 0, 0.9), Gap(FOOD, 0, 0.1)], catalog, count=1)
    assert [pick.category for pick in picks] == [FOOD]


# ----------------------------------------------------------------------------- reasons


def test_reason_text_in_both_languages_and_sources() -> None:
    product = item("x", BEAUTY, "L5")
    assert pick_reason(Pick(product, BEAUTY, 0.02, 0.18, "peers")) == "美妆个护: 你 2%, 同类主播 18%"
    assert pick_reason(Pick(product, BEAUTY, 0.0, 0.18, "platform")) == "美妆个护: 你 0%, 平台 18%"
    assert (
        pick_reason(Pick(product, "Beauty", 0.02, 0.18, "peers"), "en")
        == "Beauty: you 2%, similar streamers 18%"
    )
    assert (
        pick_reason(Pick(product, BEAUTY, 0.0, 0.18, "platform"), "en-GB") == "美妆个护: you 0%, platform 18%"
    )


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.0, "0%"),
        (0.001, "<1%"),
        (0.0049, "<1%"),
        (0.005, "1%"),
        (0.015, "2%"),
        (0.025, "3%"),  # half up, not half to even
        (0.145, "15%"),  # 0.145 is 0.14499999... in binary; the shown decimal rounds up
        (0.184, "18%"),
        (0.999, "100%"),
        (1.0, "100%"),
    ],
)
def test_percent_rounds_half_up_with_a_floor_of_less_than_one(share: float, text: str) -> None:
    assert percent_text(share) == text


# ----------------------------------------------------------------------------- peer index


def test_reference_is_the_mean_of_the_most_similar_peers_never_oneself() -> None:
    mixes = {
        1: {BEAUTY: 0.9, FOOD: 0.1},
        2: {BEAUTY: 0.8, FOOD: 0.2},
        3: {BEAUTY: 0.7, HOME: 0.3},
        4: {FOOD: 1.0},
        5: {},
    }
    index = PeerIndex.build(mixes, CATEGORIES, min_peers=1)
    assert index.peers(1, k=2) == [2, 3]
    reference = reference_mix(mixes[1], index, k=2, exclude=1)
    assert reference.source == "peers" and reference.peer_count == 2
    assert reference.mix == pytest.approx({BEAUTY: 0.75, FOOD: 0.1, HOME: 0.15})
    # without `exclude`, the streamer is their own nearest peer
    assert reference_mix(mixes[1], index, k=1).mix == pytest.approx(mixes[1])


def test_no_data_or_too_few_peers_falls_back_to_the_platform() -> None:
    mixes = {1: {BEAUTY: 1.0}, 2: {BEAUTY: 0.5, FOOD: 0.5}, 3: {}}
    platform = {BEAUTY: 0.5, FOOD: 0.3, HOME: 0.2}
    index = PeerIndex.build(mixes, CATEGORIES, platform=platform, min_peers=2)
    by_id = dict(zip([1, 2, 3, 99], index.references([1, 2, 3, 99]), strict=True))
    for streamer_id in (1, 2, 3, 99):  # 1 and 2 have one peer each; 3 has no data; 99 is unknown
        assert by_id[streamer_id] == Reference(platform, "platform", 0)
    assert reference_mix({}, index) == Reference(platform, "platform", 0)
    assert reference_mix({"宠物用品": 1.0}, index).source == "platform"  # nobody sells it


def test_batch_and_single_references_agree_and_are_deterministic() -> None:
    mixes = random_mixes(600, seed=3)
    first = PeerIndex.build(mixes, CATEGORIES, pool=64)
    second = PeerIndex.build(dict(mixes), CATEGORIES, pool=64)
    ids = list(mixes)
    batch = first.references(ids, k=10)
    assert batch == second.references(ids, k=10)
    for streamer_id in ids[:40]:
        single = reference_mix(mixes[streamer_id], first, k=10, exclude=streamer_id)
        assert single.source == batch[ids.index(streamer_id)].source
        assert single.mix == pytest.approx(batch[ids.index(streamer_id)].mix)


@pytest.mark.parametrize("pool", [100_000, 1000])
def test_approximate_peers_are_close_to_exact_knn(pool: int) -> None:
    """Recall of the blocked kNN against brute force: whole category blocks, and pair blocks.

    (With pool=1000 the biggest category blocks, ~1,500 streamers, are replaced by pair blocks.)
    """
    mixes = random_mixes(3000, seed=11)
    index = PeerIndex.build(mixes, CATEGORIES, pool=pool)
    ids = [streamer_id for streamer_id, mix in mixes.items() if mix]
    matrix = np.array([[mixes[i].get(c, 0.0) for c in CATEGORIES] for i in ids])
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    row_of = {streamer_id: row for row, streamer_id in enumerate(ids)}
    k, recalls = 20, []
    for row in range(0, len(ids), 15):
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        kth = np.sort(similarity)[-k]
        peers = index.peers(ids[row], k=k)
        assert ids[row] not in peers and len(peers) == k
        recalls.append(np.mean([similarity[row_of[peer]] >= kth - 1e-6 for peer in peers]))
    assert np.mean(recalls) >= 0.9


def test_every_peer_shares_the_streamers_biggest_category() -> None:
    mixes = random_mixes(800, seed=5)
    index = PeerIndex.build(mixes, CATEGORIES, pool=50)
    for streamer_id, mix in list(mixes.items())[:100]:
        if not mix:
            continue
        top = max(mix, key=lambda category: (mix[category], -CATEGORIES.index(category)))
        for peer in index.peers(streamer_id, k=10):
            assert mixes[peer].get(top, 0) > 0


def random_mixes(count: int, seed: int) -> dict[int, dict[str, float]]:
    rng = np.random.default_rng(seed)
    mixes: dict[int, dict[str, float]] = {}
    for streamer_id in range(1, count + 1):
        if rng.random() < 0.05:
            mixes[streamer_id] = {}
            continue
        size = int(rng.integers(1, len(CATEGORIES) + 1))
        chosen = rng.choice(len(CATEGORIES), size=size, replace=False, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        shares = rng.dirichlet(np.ones(size))
        mixes[streamer_id] = mix_from_sales(
            {CATEGORIES[c]: float(s) for c, s in zip(chosen, shares, strict=True)}
        )
    return mixes


# ----------------------------------------------------------------------------- end to end


def test_a_beauty_only_streamer_never_gets_beauty(catalog) -> None:
    mixes = {1: {BEAUTY: 1.0}}
    mixes |= {peer: {BEAUTY: 0.7, FOOD: 0.2, HOME: 0.1} for peer in range(2, 30)}
    index = PeerIndex.build(mixes, CATEGORIES)
    reference = reference_mix(mixes[1], index, exclude=1)
    assert reference.source == "peers" and reference.mix[BEAUTY] > 0.5
    found, picks = picks_for(mixes[1], reference, RankedCatalog(catalog), platform=index.platform)
    assert [gap.category for gap in found] == [FOOD, HOME]
    assert picks and all(pick.category != BEAUTY for pick in picks)
    assert pick_reason(picks[0]) == "食品饮料: 你 0%, 同类主播 20%"


def test_a_streamer_without_data_gets_platform_driven_picks(catalog) -> None:
    platform = {BEAUTY: 0.4, FOOD: 0.35, HOME: 0.25}
    index = PeerIndex.build({1: {BEAUTY: 1.0}, 2: {FOOD: 1.0}}, CATEGORIES, platform=platform)
    reference = reference_mix({}, index)
    found, picks = picks_for({}, reference, catalog)
    assert [gap.category for gap in found] == [BEAUTY, FOOD, HOME]
    assert {pick.source for pick in picks} == {"platform"}
    assert len(picks) == 5
    assert pick_reason(picks[0]) == "美妆个护: 你 0%, 平台 40%"


def test_when_peers_show_no_gap_the_platform_tops_up(catalog) -> None:
    mixes = {streamer_id: {FOOD: 1.0} for streamer_id in range(1, 30)}
    index = PeerIndex.build(mixes, CATEGORIES, platform={FOOD: 0.5, BEAUTY: 0.3, HOME: 0.2})
    reference = index.references([1])[0]
    assert reference.source == "peers" and reference.mix == {FOOD: 1.0}
    found, picks = picks_for(mixes[1], reference, catalog)
    assert found == [] and picks == []  # without the platform: nothing to suggest
    found, picks = picks_for(mixes[1], reference, catalog, platform=index.platform)
    assert found == []
    assert [(pick.category, pick.source) for pick in picks] == [(BEAUTY, "platform"), (HOME, "platform")] * 2
    assert pick_reason(picks[0]) == "美妆个护: 你 0%, 平台 30%"


# ----------------------------------------------------------------------------- properties

SKUS = [f"S{n:03d}" for n in range(60)]


@st.composite
def catalogs(draw: st.DrawFn) -> list[CatalogItem]:
    skus = draw(st.lists(st.sampled_from(SKUS), unique=True, max_size=40))
    return [
        item(
            sku,
            draw(st.sampled_from(CATEGORIES)),
            draw(st.sampled_from(TIERS)),
            draw(st.sampled_from([70.0, 80.0, 85.0, 90.0, 95.0])),
            draw(st.booleans()),
        )
        for sku in skus
    ]


mixes_strategy = st.dictionaries(st.sampled_from(CATEGORIES), st.floats(0.01, 1.0)).map(mix_from_sales)


@settings(max_examples=300, deadline=None)
@given(
    items=catalogs(),
    own=mixes_strategy,
    reference=mixes_strategy,
    recent=st.sets(st.sampled_from(SKUS), max_size=10),
    not_interested=st.sets(st.sampled_from(SKUS), max_size=10),
    count=st.integers(1, 8),
    per_category=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_choose_picks_properties(
    items: list[CatalogItem],
    own: dict[str, float],
    reference: dict[str, float],
    recent: set[str],
    not_interested: set[str],
    count: int,
    per_category: int,
    seed: int,
) -> None:
    found = gaps(own, reference)

    def run(catalog: Mapping[str, Sequence[CatalogItem]], count: int, skip: int = 0) -> list[Pick]:
        return choose_picks(
            found,
            catalog,
            recent_skus=recent,
            not_interested=not_interested,
            count=count,
            per_category=per_category,
            skip=skip,
        )

    picks = run(by_category(items), count)

    assert len(picks) <= count
    assert len({pick.item.sku for pick in picks}) == len(picks)
    assert all(pick.item.tier in {"L4", "L5"} and not pick.item.counterfeit for pick in picks)
    assert all(pick.item.sku not in recent and pick.item.sku not in not_interested for pick in picks)
    assert max(Counter(pick.category for pick in picks).values(), default=0) <= per_category
    gap_categories = {gap.category for gap in found}
    assert all(pick.category in gap_categories and pick.category == pick.item.category for pick in picks)
    assert all(own.get(pick.category, 0) < reference[pick.category] for pick in picks)
    ranks = [pick.item.tier_rank for pick in picks]
    assert ranks == sorted(ranks, reverse=True)  # L5 before L4

    # Each category gives its best eligible goods, in order.
    def eligible(category: str) -> list[str]:
        pool = [
            product
            for product in items
            if product.category == category
            and product.tier in {"L4", "L5"}
            and not product.counterfeit
            and product.sku not in recent | not_interested
        ]
        return [product.sku for product in sorted(pool, key=lambda p: (-p.tier_rank, -p.score, p.sku))]

    for category in {pick.category for pick in picks}:
        chosen = [pick.item.sku for pick in picks if pick.category == category]
        assert sorted(chosen) == sorted(eligible(category)[: len(chosen)])
    # Fewer than asked only when every gap category is used up.
    if len(picks) < count:
        for category in gap_categories:
            taken = sum(pick.category == category for pick in picks)
            assert taken == per_category or taken == len(eligible(category))

    # Deterministic, whatever the catalog's order, and the same with a pre-ranked catalog.
    shuffled = items[:]
    random.Random(seed).shuffle(shuffled)
    assert run(by_category(shuffled), count) == picks
    assert run(RankedCatalog(shuffled), count) == picks

    # 换一批: the next page continues the same selection without repeating it.
    more = run(by_category(items), count, skip=count)
    both = run(by_category(items), 2 * count)
    assert {pick.item.sku for pick in picks} | {pick.item.sku for pick in more} == {p.item.sku for p in both}
    assert not {pick.item.sku for pick in picks} & {pick.item.sku for pick in more}


@settings(max_examples=100, deadline=None)
@given(items=catalogs(), own=mixes_strategy, platform=mixes_strategy)
def test_picks_for_never_suggests_a_category_the_streamer_is_not_missing(
    items: list[CatalogItem], own: dict[str, float], platform: dict[str, float]
) -> None:
    reference = Reference(mix_from_sales({**own, FOOD: 0.5}), "peers", 20)
    found, picks = picks_for(own, reference, RankedCatalog(items), platform=platform)
    for pick in picks:
        against = reference.mix if pick.source == "peers" else platform
        assert against[pick.category] > own.get(pick.category, 0)
    assert max(Counter(pick.category for pick in picks).values(), default=0) <= 2
