"""The synthetic benchmark catalog (benchmarks.catalog): deterministic, and tiered by the policy."""

from __future__ import annotations

import dataclasses
from collections import Counter

from benchmarks.catalog import generated_catalog
from core.catalog import TIERS
from core.grading import tier_for_score
from core.policy import default_policy


def test_generated_catalog_is_deterministic_and_graded() -> None:
    first = list(generated_catalog(2000, seed=9))
    assert first == list(generated_catalog(2000, seed=9))
    assert [it.id for it in first] == list(range(1, 2001))
    assert len({it.sku for it in first}) == 2000
    assert set(Counter(it.tier for it in first)) == set(TIERS)
    assert len({it.category for it in first}) >= 12


def test_tiers_follow_the_policy_thresholds() -> None:
    strict = dataclasses.replace(
        default_policy(), thresholds={"L1": 60.0, "L2": 70.0, "L3": 80.0, "L4": 88.0, "L5": 93.0}
    )
    default = list(generated_catalog(2000, seed=9))
    shifted = list(generated_catalog(2000, seed=9, policy=strict))
    assert [it.title for it in shifted] == [it.title for it in default]  # only the tiers change
    for policy, items in ((default_policy(), default), (strict, shifted)):
        for it in items:
            if it.counterfeit:
                assert it.tier == "L0"
            elif all(abs(it.score - t) > 0.01 for t in policy.thresholds.values()):  # scores are rounded
                assert it.tier == tier_for_score(it.score, policy)
    assert Counter(it.tier for it in shifted)["L5"] < Counter(it.tier for it in default)["L5"]
