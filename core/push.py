"""Targeted recommendations (官方小二定向推荐): which goods, to whom, and what makes two pushes the same.

A push is up to `MAX_GOODS` L4+ goods and a segment of streamers: those with a gap in a category
(as `picks` computes gaps), those whose mix has the category, or everyone with digests on. The goods
(as a set) and the segment are the push's identity: the same push again reaches nobody new.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.picks.choose import PICKABLE_TIERS, gaps

MAX_GOODS = 5


class Audience(StrEnum):
    ALL = "all"  # every streamer with digests on
    GAP = "gap"  # streamers with a gap in the category
    MIX = "mix"  # streamers whose mix has the category (they sell it)


@dataclass(frozen=True, slots=True)
class Segment:
    audience: Audience = Audience.ALL
    category: str | None = None

    def __post_init__(self) -> None:
        if (self.audience == Audience.ALL) != (self.category is None):
            raise ValueError("a gap or mix segment names one category; `all` names none")

    def includes(self, own: Mapping[str, float], reference: Mapping[str, float]) -> bool:
        """Whether a streamer with this own mix and reference mix belongs to the segment."""
        if self.audience == Audience.ALL:
            return True
        if self.audience == Audience.MIX:
            return own.get(self.category or "", 0.0) > 0
        return any(gap.category == self.category for gap in gaps(own, reference))


def push_key(skus: Iterable[str], segment: Segment) -> str:
    """The push's identity: its goods as a set, and its segment."""
    goods = ",".join(sorted(set(skus)))
    return f"{segment.audience.value}:{segment.category or ''}|{goods}"


def parse_skus(text: str) -> list[str]:
    """`A, B，C A` -> ["A", "B", "C"]: commas (ASCII or full-width) or spaces, each sku once."""
    parts = text.replace("，", ",").replace(" ", ",").split(",")
    return list(dict.fromkeys(p.strip() for p in parts if p.strip()))


def refusal(tier: str) -> str | None:
    """Why a product of this tier cannot be pushed (None: it can)."""
    return None if tier in PICKABLE_TIERS else "tier"
