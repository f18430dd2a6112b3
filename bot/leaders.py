"""Presentation for 团长 and activities: floors, tier counts, and the mark a team streamer sees."""

from __future__ import annotations

from collections.abc import Mapping

from bot.i18n import t
from bot.render import category_name, h, percent
from core.activities import Mark


def floors_text(floors: Mapping[str, float], lang: str) -> str:
    """`美妆个护 ≥20% · 食品 ≥15%` (category names escaped)."""
    return " · ".join(f"{h(category_name(c, lang))} ≥{percent(r)}" for c, r in floors.items())


def tiers_text(by_tier: Mapping[str, int]) -> str:
    return " · ".join(f"{tier} {n}" for tier, n in by_tier.items()) or "-"


def mark_text(mark: Mark, lang: str) -> str:
    """The activity's mark on a product, for the streamers of the 团长's team."""
    return t("activity.mark", lang, name=h(mark.name), rate=percent(mark.rate))
