"""The grading policy: the weights, curves and tier thresholds `core.grading` grades with.

One versioned TOML file (`core/policy.toml` by default) holds everything grading knows; an admin
may load another one. `parse_policy` checks it covers the five dimensions and 11 indicators.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.catalog import TIERS

__all__ = [
    "DEFAULT_POLICY_PATH",
    "DIMENSIONS",
    "INDICATORS",
    "Curve",
    "Policy",
    "PolicyError",
    "default_policy",
    "load_policy",
    "parse_policy",
]

# What a policy weighs; `core.grading` grades along the same names.
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
        """Whether the curve rises with the value."""
        return self.ys[-1] >= self.ys[0]

    def points(self, x: float) -> float:
        """The points `x` earns on this curve."""
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
    """A validated grading policy: weights, curves, tier thresholds and badge limits."""

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
    """Read and validate a policy TOML file."""
    with open(path, "rb") as fh:
        return parse_policy(tomllib.load(fh))


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The policy shipped with the code (`core/policy.toml`), read once."""
    return load_policy(DEFAULT_POLICY_PATH)
