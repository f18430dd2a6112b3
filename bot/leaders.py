"""Presentation for 团长 and activities: floors and tier counts (the mark is bot.render.mark_text)."""

from __future__ import annotations

from collections.abc import Mapping

from bot.render import category_name, h, percent


def floors_text(floors: Mapping[str, float], lang: str) -> str:
    """`美妆个护 ≥20% · 食品 ≥15%` (category names escaped)."""
    return " · ".join(f"{h(category_name(c, lang))} ≥{percent(r)}" for c, r in floors.items())


def tiers_text(by_tier: Mapping[str, int]) -> str:
    return " · ".join(f"{tier} {n}" for tier, n in by_tier.items()) or "-"
