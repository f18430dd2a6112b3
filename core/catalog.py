"""Plain catalog records shared by the pure core (search, picks, rendering).

Storage turns table rows into these; the core never sees SQL or aiogram objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

TIERS: tuple[str, ...] = ("L0", "L1", "L2", "L3", "L4", "L5")


def tier_rank(tier: str) -> int:
    """`"L3"` -> 3."""
    return TIERS.index(tier)


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """What streamers may see of a product (no raw indicators)."""

    id: int
    sku: str
    title: str
    brand: str
    category: str
    merchant: str
    price: float
    commission_rate: float
    tier: str
    score: float
    counterfeit: bool = False
    badges: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    dimensions: dict[str, float] = field(default_factory=dict, compare=False, hash=False)
    image_url: str | None = None  # the product photo, as imported (shown on cards)

    @property
    def tier_rank(self) -> int:
        return tier_rank(self.tier)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One tier change of a product, as a merchant sees it."""

    changed_at: datetime
    old_tier: str | None
    new_tier: str
    moved_dimension: str | None
