"""The grading engine: five dimensions, 11 weighted indicators, tiers L0–L5.

A pure module. Everything it knows comes from one versioned policy file
(`core.policy`); `grade(indicators, policy)` returns a `Grade`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from core.catalog import TIERS
from core.policy import DIMENSIONS, INDICATORS, Policy, default_policy

# DIMENSIONS and INDICATORS are defined by the policy module (it validates files against them) and
# are part of grading's public face too.
__all__ = [
    "BADGE_BESTSELLER",
    "BADGE_BRAND",
    "BADGE_FACTORY",
    "BADGE_HIGH_COMMISSION",
    "BADGE_LOW_REFUND",
    "BADGE_SELECTED",
    "CATALOG_TAGS",
    "DIMENSIONS",
    "GATES",
    "INDICATORS",
    "TIER_NAMES_ZH",
    "Grade",
    "Indicators",
    "Lever",
    "NextTier",
    "combine",
    "grade",
    "tier_for_score",
]

GATES: tuple[str, ...] = ("counterfeit", "factory_verified", "brand_authorized")
TIER_NAMES_ZH: dict[str, str] = {
    "L5": "行业尖货",
    "L4": "行业爆款",
    "L3": "优质好物",
    "L2": "达标分销",
    "L1": "新品上线",
    "L0": "待整改",
}
# Badge codes are the platform's own words; render translates them for English readers.
BADGE_SELECTED = "精选好物"
BADGE_BRAND = "品牌"
BADGE_FACTORY = "验厂"
BADGE_LOW_REFUND = "低退款"
BADGE_HIGH_COMMISSION = "高佣"
BADGE_BESTSELLER = "爆款"
CATALOG_TAGS: tuple[str, ...] = ("跨境", "本地生活", "虚拟", "官方补贴", "新品")

# The precision a lever's target is given in, per indicator (a merchant acts on "3.0%", not 0.0299731).
_LEVER_STEP: dict[str, float] = {
    "brand_authorized": 1,
    "brand_awareness": 1,
    "price_index": 0.01,
    "lowest_price_ratio": 0.01,
    "commission_rate": 0.001,
    "active_streamers_30d": 1,
    "shop_rating": 0.01,
    "refund_rate": 0.001,
    "dispute_rate": 0.0001,
    "gmv_30d": 100,
    "conversion_rate": 0.001,
}


@dataclass(frozen=True, slots=True)
class Indicators:
    """The 11 indicators plus the two gate flags of one product."""

    brand_authorized: float
    brand_awareness: float
    price_index: float
    lowest_price_ratio: float
    commission_rate: float
    active_streamers_30d: float
    shop_rating: float
    refund_rate: float
    dispute_rate: float
    gmv_30d: float
    conversion_rate: float
    factory_verified: bool = False
    counterfeit: bool = False

    @classmethod
    def from_mapping(cls, row: Mapping) -> Indicators:
        """Indicators from a row of the import file (or any mapping with the 11 names)."""
        values = {name: float(row[name]) for name in INDICATORS}
        return cls(
            **values,
            factory_verified=bool(int(float(row.get("factory_verified", 0) or 0))),
            counterfeit=bool(int(float(row.get("counterfeit_flag", row.get("counterfeit", 0)) or 0))),
        )

    def value(self, name: str) -> float:
        """One indicator's value by name."""
        return float(getattr(self, name))

    def replace(self, **changes: float | bool) -> Indicators:
        """A copy with some indicators changed."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(changes)
        return Indicators(**current)


@dataclass(frozen=True, slots=True)
class Lever:
    """One indicator change and the score it would gain."""

    indicator: str
    current: float
    target: float
    gain: float


@dataclass(frozen=True, slots=True)
class NextTier:
    """The next tier up, how many points it takes, and the levers that get there."""

    tier: str
    points_needed: float
    levers: tuple[Lever, ...]
    blocked_by: tuple[str, ...] = ()  # gates that must pass before this tier is reachable


@dataclass(frozen=True, slots=True)
class Grade:
    """A product's grade: score, tier, its parts and the way up."""

    score: float
    tier: str
    raw_tier: str  # what the score alone earns, before gates
    dimensions: dict[str, float]
    indicator_points: dict[str, float]
    gates: dict[str, bool]  # gate -> passed
    badges: tuple[str, ...]
    next_tier: NextTier | None
    policy_version: str

    @property
    def tier_name(self) -> str:
        """The tier's Chinese name (行业尖货 for L5)."""
        return TIER_NAMES_ZH[self.tier]

    @property
    def capped_by(self) -> tuple[str, ...]:
        """Gates that hold the tier below what the score earns."""
        if self.tier == self.raw_tier:
            return ()
        return tuple(g for g, ok in self.gates.items() if not ok)


def tier_for_score(score: float, policy: Policy) -> str:
    """The tier a score earns under the policy's thresholds, before gates."""
    for tier in reversed(TIERS[1:]):
        if score >= policy.thresholds[tier]:
            return tier
    return "L0"


def _dimension_scores(points: Mapping[str, float], policy: Policy) -> dict[str, float]:
    return {
        dim: math.fsum(points[i] * w for i, w in policy.indicator_weights[dim].items()) for dim in DIMENSIONS
    }


def combine(dimensions: Mapping[str, float], policy: Policy) -> float:
    """The score from dimension scores: their weighted sum."""
    return math.fsum(dimensions[d] * policy.dimension_weights[d] for d in DIMENSIONS)


def _gates(ind: Indicators) -> dict[str, bool]:
    return {
        "counterfeit": not ind.counterfeit,
        "factory_verified": ind.factory_verified,
        "brand_authorized": ind.brand_authorized >= 1,
    }


def _apply_gates(raw_tier: str, gates: Mapping[str, bool]) -> str:
    if not gates["counterfeit"]:
        return "L0"
    if raw_tier == "L5" and not (gates["factory_verified"] and gates["brand_authorized"]):
        return "L4"
    return raw_tier


def _round_toward_better(value: float, step: float, higher_is_better: bool) -> float:
    q = value / step
    q = math.ceil(q - 1e-9) if higher_is_better else math.floor(q + 1e-9)
    return round(q * step, 10)


def _levers(ind: Indicators, points: Mapping[str, float], needed: float, policy: Policy) -> list[Lever]:
    """Per indicator, the smallest change that alone closes `needed`, else its next curve step."""
    levers: list[Lever] = []
    for name in INDICATORS:
        curve = policy.curves[name]
        w = policy.weight(name)
        current = ind.value(name)
        have = points[name]
        if w <= 0 or have >= max(curve.ys) - 1e-9:
            continue
        target = curve.value_for(have + needed / w) if needed > 0 else None
        if target is None:
            # Cannot close the gap alone: offer the next breakpoint that gains points.
            better = [
                x
                for x, y in zip(curve.xs, curve.ys, strict=True)
                if y > have + 1e-9 and ((x > current) if curve.higher_is_better else (x < current))
            ]
            if not better:
                continue
            target = min(better) if curve.higher_is_better else max(better)
        target = _round_toward_better(target, _LEVER_STEP[name], curve.higher_is_better)
        gain = w * (curve.points(target) - have)
        if gain > 1e-6:
            levers.append(Lever(name, current, target, round(gain, 2)))
    # Changes that reach the next tier on their own come first, then the biggest gains.
    levers.sort(key=lambda lv: (lv.gain < needed, -lv.gain, INDICATORS.index(lv.indicator)))
    return levers


def _next_tier(
    ind: Indicators,
    score: float,
    tier: str,
    points: Mapping[str, float],
    gates,
    policy: Policy,
    *,
    with_levers: bool = True,
):
    if tier == "L5":
        return None
    nxt = TIERS[TIERS.index(tier) + 1]
    if not gates["counterfeit"]:
        # A counterfeit item stays L0 whatever its score: the gate is the only lever.
        return NextTier(nxt, 0.0, (), ("counterfeit",))
    needed = max(0.0, math.ceil((policy.thresholds[nxt] - score) * 100 - 1e-9) / 100)
    blocked: tuple[str, ...] = ()
    if nxt == "L5":
        blocked = tuple(g for g in ("factory_verified", "brand_authorized") if not gates[g])
    levers = _levers(ind, points, needed, policy)[:3] if needed > 0 and with_levers else []
    return NextTier(nxt, needed, tuple(levers), blocked)


def _badges(ind: Indicators, tier: str, tags, policy: Policy) -> tuple[str, ...]:
    out: list[str] = []
    if tier == "L5":
        out.append(BADGE_SELECTED)
    if ind.brand_authorized >= 1:
        out.append(BADGE_BRAND)
    if ind.factory_verified:
        out.append(BADGE_FACTORY)
    if ind.refund_rate <= policy.low_refund_max:
        out.append(BADGE_LOW_REFUND)
    if ind.commission_rate >= policy.high_commission_min:
        out.append(BADGE_HIGH_COMMISSION)
    if ind.gmv_30d >= policy.bestseller_gmv_min:
        out.append(BADGE_BESTSELLER)
    for tag in tags:
        tag = tag.strip()
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)


def grade(
    ind: Indicators,
    policy: Policy | None = None,
    tags: tuple[str, ...] | list[str] = (),
    *,
    levers: bool = True,
) -> Grade:
    """Grade one product: score, dimension scores, tier, gates, badges and the way to the next tier.

    `levers=False` skips the search for levers (most of the cost) when only the grade is stored.
    """
    policy = policy or default_policy()
    points = {name: policy.curves[name].points(ind.value(name)) for name in INDICATORS}
    dims = _dimension_scores(points, policy)
    score = combine(dims, policy)
    raw_tier = tier_for_score(score, policy)
    gates = _gates(ind)
    tier = _apply_gates(raw_tier, gates)
    return Grade(
        score=score,
        tier=tier,
        raw_tier=raw_tier,
        dimensions=dims,
        indicator_points=points,
        gates=gates,
        badges=_badges(ind, tier, tags, policy),
        next_tier=_next_tier(ind, score, tier, points, gates, policy, with_levers=levers),
        policy_version=policy.version,
    )
