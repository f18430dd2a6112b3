"""Streamers for a product (达人匹配): who lacks the product's category and resembles its sellers. Pure.

A merchant sees each candidate as a name, a category mix and a GMV band, never an exact figure:
the band is computed here so nothing downstream holds the amount.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.picks.mix import Mix, platform_mix

__all__ = [
    "GMV_BANDS",
    "NO_SALES",
    "Candidate",
    "Match",
    "gmv_band",
    "rank_candidates",
    "seller_mix",
    "similarity",
]

# (lower bound of the 30-day GMV, band code); codes are what `match --json` prints.
GMV_BANDS: tuple[tuple[float, str], ...] = (
    (5_000_000, "5m+"),
    (1_000_000, "1m-5m"),
    (200_000, "200k-1m"),
    (50_000, "50k-200k"),
    (10_000, "10k-50k"),
    (0.01, "<10k"),
)
NO_SALES = "none"
_EPSILON = 1e-9


def gmv_band(gmv: float) -> str:
    """30-day GMV -> a band code (`none` without sales); the exact figure never leaves this function."""
    if not math.isfinite(gmv):
        return NO_SALES
    for lower, code in GMV_BANDS:
        if gmv >= lower:
            return code
    return NO_SALES


def similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two mixes, 0..1 (0 when either is empty)."""
    dot = math.fsum(share * b.get(category, 0.0) for category, share in a.items())
    norm = math.sqrt(math.fsum(v * v for v in a.values())) * math.sqrt(math.fsum(v * v for v in b.values()))
    return dot / norm if norm > 0 else 0.0


def seller_mix(mixes: Iterable[Mapping[str, float]]) -> Mix:
    """The mean mix of the streamers already selling the category (each weighs the same)."""
    return platform_mix(mixes)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A discoverable streamer: their mix, their reference mix (peers or platform) and 30-day GMV."""

    telegram_id: int
    mix: Mapping[str, float]
    reference: Mapping[str, float]
    gmv: float = 0.0


@dataclass(frozen=True, slots=True)
class Match:
    telegram_id: int
    gap: float  # how much more of the category their reference sells, by share
    similarity: float  # to the streamers already selling it
    gmv_band: str
    mix: tuple[tuple[str, float], ...]  # their biggest categories, biggest first

    @property
    def score(self) -> float:
        return self.gap + self.similarity


def rank_candidates(
    candidates: Iterable[Candidate],
    category: str,
    sellers: Mapping[str, float],
    *,
    exclude: Iterable[int] = (),
    limit: int = 10,
    mix_depth: int = 3,
) -> list[Match]:
    """Candidates whose gaps include `category`, best first.

    The score adds the gap in `category` (reference share minus own share) and the cosine
    similarity to `sellers` (the mean mix of those already selling it): both lie in 0..1, so a
    streamer who lacks the category and looks like its sellers comes first. Ties go by id.
    """
    skip = set(exclude)
    found: list[Match] = []
    for candidate in candidates:
        if candidate.telegram_id in skip or not candidate.mix:
            continue
        gap = candidate.reference.get(category, 0.0) - candidate.mix.get(category, 0.0)
        if gap <= _EPSILON:
            continue
        top = sorted(candidate.mix.items(), key=lambda kv: (-kv[1], kv[0]))[:mix_depth]
        found.append(
            Match(
                candidate.telegram_id,
                gap,
                similarity(candidate.mix, sellers),
                gmv_band(candidate.gmv),
                tuple((c, float(s)) for c, s in top),
            )
        )
    found.sort(key=lambda m: (-m.score, m.telegram_id))
    return found[: max(0, limit)]
