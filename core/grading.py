"""The grading engine: five dimensions, 11 weighted indicators, tiers L0–L5.

A pure module. Everything it knows comes from one versioned policy file
(`bot/policy.toml` by default); `grade(indicators, policy)` returns a `Grade`.
"""

from __future__ import annotations

import math
import tomllib
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path

from core.catalog import TIERS

DIMENSIONS: tuple[str, ...] = ("brand", "price", "distribution", "service", "sales")
INDICATORS: tuple[str, ...] = (
    "brand_authorized",
    "brand_awareness",
    "price_index",
    "lowest_price_ratio",
    "commission_rate",
    "active_streamers_30d",
    "shop_rating",
    "refund_rate",
    "dispute_rate",
    "gmv_30d",
    "conversion_rate",
)
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
DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")


class PolicyError(ValueError):
    """The policy file is not a valid grading policy."""


@dataclass(frozen=True, slots=True)
class Curve:
    """A monotone piecewise-linear map from an indicator's value to 0–100 points."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]

    @property
    def higher_is_better(self) -> bool:
        return self.ys[-1] >= self.ys[0]

    def points(self, x: float) -> float:
        xs, ys = self.xs, self.ys
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        i = bisect_right(xs, x) - 1
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    def value_for(self, target_points: float) -> float | None:
        """The least-change value reaching `target_points`, or None when the curve never gets there."""
        best = max(self.ys)
        if target_points > best + 1e-9:
            return None
        pairs = list(zip(self.xs, self.ys, strict=True))
        if not self.higher_is_better:
            pairs.reverse()  # walk from worst to best either way
        prev_x, prev_y = pairs[0]
        if prev_y >= target_points:
            return prev_x
        for x, y in pairs[1:]:
            if y >= target_points and y > prev_y:
                return prev_x + (x - prev_x) * (target_points - prev_y) / (y - prev_y)
            prev_x, prev_y = x, y
        return pairs[-1][0]


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    dimension_weights: dict[str, float]  # normalised to sum 1
    indicator_weights: dict[str, dict[str, float]]  # per dimension, normalised to sum 1
    curves: dict[str, Curve]
    thresholds: dict[str, float]  # tier -> minimum score, L1..L5
    low_refund_max: float
    high_commission_min: float
    bestseller_gmv_min: float

    def weight(self, indicator: str) -> float:
        """The indicator's share of the whole score (dimension weight × indicator weight)."""
        for dim, inds in self.indicator_weights.items():
            if indicator in inds:
                return self.dimension_weights[dim] * inds[indicator]
        raise KeyError(indicator)


def _normalise(weights: Mapping[str, float], where: str) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise PolicyError(f"{where}: weights must be non-negative and not all zero")
    return {k: float(v) / total for k, v in weights.items()}


def parse_policy(data: Mapping) -> Policy:
    """Validate a policy mapping (as read from TOML) and build a `Policy`."""
    try:
        version = str(data["version"])
        dims = _normalise(data["dimensions"], "dimensions")
        if set(dims) != set(DIMENSIONS):
            raise PolicyError(f"dimensions must be exactly {', '.join(DIMENSIONS)}")
        ind_weights = {d: _normalise(data["indicators"][d], f"indicators.{d}") for d in DIMENSIONS}
        seen = [i for inds in ind_weights.values() for i in inds]
        if sorted(seen) != sorted(INDICATORS):
            raise PolicyError(f"indicators must cover each of the 11 exactly once: {', '.join(INDICATORS)}")
        curves: dict[str, Curve] = {}
        for name in INDICATORS:
            pts = data["curves"][name]
            xs = tuple(float(p[0]) for p in pts)
            ys = tuple(float(p[1]) for p in pts)
            if len(xs) < 2 or any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
                raise PolicyError(f"curves.{name}: need ≥2 points with strictly rising values")
            rising = all(b >= a for a, b in zip(ys, ys[1:], strict=False))
            falling = all(b <= a for a, b in zip(ys, ys[1:], strict=False))
            if not (rising or falling) or min(ys) < 0 or max(ys) > 100:
                raise PolicyError(f"curves.{name}: points must be monotone within 0–100")
            curves[name] = Curve(xs, ys)
        thresholds = {t: float(data["tiers"][t]) for t in TIERS[1:]}
        ordered = [thresholds[t] for t in TIERS[1:]]
        if any(b <= a for a, b in zip(ordered, ordered[1:], strict=False)):
            raise PolicyError("tiers: thresholds must rise from L1 to L5")
        badges = data.get("badges", {})
        return Policy(
            version=version,
            dimension_weights=dims,
            indicator_weights=ind_weights,
            curves=curves,
            thresholds=thresholds,
            low_refund_max=float(badges.get("low_refund_max", 0.02)),
            high_commission_min=float(badges.get("high_commission_min", 0.25)),
            bestseller_gmv_min=float(badges.get("bestseller_gmv_min", 1_000_000)),
        )
    except KeyError as exc:
        raise PolicyError(f"missing key {exc}") from exc


def load_policy(path: str | Path) -> Policy:
    with open(path, "rb") as fh:
        return parse_policy(tomllib.load(fh))


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    return load_policy(DEFAULT_POLICY_PATH)


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
        values = {name: float(row[name]) for name in INDICATORS}
        return cls(
            **values,
            factory_verified=bool(int(float(row.get("factory_verified", 0) or 0))),
            counterfeit=bool(int(float(row.get("counterfeit_flag", row.get("counterfeit", 0)) or 0))),
        )

    def value(self, name: str) -> float:
        return float(getattr(self, name))

    def replace(self, **changes: float | bool) -> Indicators:
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
    tier: str
    points_needed: float
    levers: tuple[Lever, ...]
    blocked_by: tuple[str, ...] = ()  # gates that must pass before this tier is reachable


@dataclass(frozen=True, slots=True)
class Grade:
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
        return TIER_NAMES_ZH[self.tier]

    @property
    def capped_by(self) -> tuple[str, ...]:
        """Gates that hold the tier below what the score earns."""
        if self.tier == self.raw_tier:
            return ()
        return tuple(g for g, ok in self.gates.items() if not ok)


def tier_for_score(score: float, policy: Policy) -> str:
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
