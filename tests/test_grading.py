"""The grading engine, with plain values and hypothesis properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.catalog import tier_rank
from core.grading import DIMENSIONS, INDICATORS, Indicators, combine, grade
from core.policy import PolicyError, default_policy, parse_policy

POLICY = default_policy()

RANGES = {
    "brand_authorized": st.sampled_from([0.0, 1.0]),
    "brand_awareness": st.floats(0, 100),
    "price_index": st.floats(0.3, 3.0),
    "lowest_price_ratio": st.floats(0.5, 2.5),
    "commission_rate": st.floats(0, 1),
    "active_streamers_30d": st.integers(0, 5000).map(float),
    "shop_rating": st.floats(0, 5),
    "refund_rate": st.floats(0, 1),
    "dispute_rate": st.floats(0, 1),
    "gmv_30d": st.floats(0, 1e8),
    "conversion_rate": st.floats(0, 1),
}
HIGHER_IS_BETTER = {name: POLICY.curves[name].higher_is_better for name in INDICATORS}

indicators = st.builds(
    Indicators,
    **RANGES,
    factory_verified=st.booleans(),
    counterfeit=st.booleans(),
)

BEST = Indicators(1, 100, 0.5, 0.8, 0.5, 1000, 5, 0, 0, 1e8, 0.5, factory_verified=True, counterfeit=False)
WORST = Indicators(0, 0, 3, 3, 0, 0, 0, 1, 1, 0, 0, factory_verified=False, counterfeit=False)


@settings(max_examples=300, deadline=None)
@given(ind=indicators, name=st.sampled_from(INDICATORS), step=st.floats(0.0, 1.0))
def test_improving_any_indicator_never_lowers_score_or_tier(ind: Indicators, name: str, step: float) -> None:
    before = grade(ind, POLICY)
    value = ind.value(name)
    if name == "brand_authorized":
        better = 1.0
    elif HIGHER_IS_BETTER[name]:
        better = value + step * (abs(value) + 1)
    else:
        better = max(0.0, value - step * value)
    after = grade(ind.replace(**{name: better}), POLICY)
    assert after.score >= before.score - 1e-9
    assert tier_rank(after.tier) >= tier_rank(before.tier)


@settings(max_examples=200, deadline=None)
@given(ind=indicators)
def test_counterfeit_is_always_l0(ind: Indicators) -> None:
    assert grade(ind.replace(counterfeit=True), POLICY).tier == "L0"


@settings(max_examples=300, deadline=None)
@given(ind=indicators)
def test_no_l5_without_factory_verification_and_brand_authorization(ind: Indicators) -> None:
    g = grade(ind, POLICY)
    if g.tier == "L5":
        assert ind.factory_verified and ind.brand_authorized >= 1
    assert grade(ind.replace(factory_verified=False), POLICY).tier != "L5"
    assert grade(ind.replace(brand_authorized=0.0), POLICY).tier != "L5"


@settings(max_examples=300, deadline=None)
@given(ind=indicators)
def test_dimension_scores_recombine_to_the_score_exactly(ind: Indicators) -> None:
    g = grade(ind, POLICY)
    assert g.score == combine(g.dimensions, POLICY)
    assert set(g.dimensions) == set(DIMENSIONS)
    assert 0 <= g.score <= 100


def test_best_is_l5_and_worst_is_l0() -> None:
    best, worst = grade(BEST, POLICY), grade(WORST, POLICY)
    assert best.tier == "L5" and math.isclose(best.score, 100)
    assert "精选好物" in best.badges
    assert worst.tier == "L0" and worst.score == 0


def test_gate_caps_a_top_score_at_l4_and_says_why() -> None:
    g = grade(BEST.replace(factory_verified=False), POLICY)
    assert g.raw_tier == "L5" and g.tier == "L4"
    assert g.capped_by == ("factory_verified",)
    assert g.next_tier is not None and g.next_tier.blocked_by == ("factory_verified",)


def test_levers_close_the_gap_to_the_next_tier() -> None:
    ind = Indicators(1, 70, 1.0, 1.02, 0.18, 40, 4.6, 0.061, 0.008, 300000, 0.04, factory_verified=True)
    g = grade(ind, POLICY)
    assert g.tier == "L3" and g.next_tier is not None and g.next_tier.tier == "L4"
    assert g.next_tier.levers, "a product below L5 gets levers"
    for lever in g.next_tier.levers:
        lifted = grade(ind.replace(**{lever.indicator: lever.target}), POLICY)
        assert math.isclose(lifted.score - g.score, lever.gain, abs_tol=0.01)
        # Each lever is the smallest change that closes the gap alone, where one exists.
        if lever.gain >= g.next_tier.points_needed:
            assert lifted.tier == "L4"
    closing = [lv.gain >= g.next_tier.points_needed for lv in g.next_tier.levers]
    assert closing == sorted(closing, reverse=True), "levers that close the gap alone come first"


def test_a_weak_indicator_gets_a_lever_that_closes_the_gap_alone() -> None:
    ind = BEST.replace(refund_rate=0.3, dispute_rate=0.02, brand_awareness=30)
    g = grade(ind, POLICY)
    assert g.next_tier is not None
    refund = next(lv for lv in g.next_tier.levers if lv.indicator == "refund_rate")
    assert 0.03 < refund.target < 0.3 and refund.gain >= g.next_tier.points_needed
    assert grade(ind.replace(refund_rate=refund.target), POLICY).tier == "L5"


def test_badges_follow_thresholds_and_tags() -> None:
    ind = Indicators(1, 90, 0.8, 0.95, 0.3, 300, 4.9, 0.01, 0.001, 2_000_000, 0.08, factory_verified=True)
    g = grade(ind, POLICY, tags=("跨境", "新品"))
    for badge in ("品牌", "验厂", "低退款", "高佣", "爆款", "跨境", "新品"):
        assert badge in g.badges


@pytest.mark.parametrize(
    "change, message",
    [
        ({"curves": {"refund_rate": [[0, 10], [0.1, 50], [0.2, 0]]}}, "monotone"),
        ({"tiers": {"L5": 50, "L4": 75, "L3": 65, "L2": 55, "L1": 45}}, "rise"),
        ({"dimensions": {"brand": 1}}, "dimensions"),
    ],
)
def test_a_broken_policy_is_refused(change: dict, message: str) -> None:
    import tomllib

    from core.policy import DEFAULT_POLICY_PATH

    data = tomllib.loads(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    for key, value in change.items():
        if key == "curves":
            data["curves"].update(value)
        else:
            data[key] = value
    with pytest.raises(PolicyError, match=message):
        parse_policy(data)
