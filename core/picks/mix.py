"""A streamer's mix: their 30-day GMV share by category (or the categories they chose). Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["Mix", "mix_from_choice", "mix_from_sales", "platform_mix"]

Mix = dict[str, float]
"""Category -> share of a streamer's 30-day GMV; shares are positive and sum to 1."""


def mix_from_sales(sales: Mapping[str, float]) -> Mix:
    """30-day GMV by category -> shares; zero, negative and non-finite amounts are ignored."""
    positive = {
        category: float(amount)
        for category, amount in sales.items()
        if category and math.isfinite(amount) and amount > 0
    }
    total = math.fsum(positive.values())
    if total <= 0:
        return {}
    shares = {category: amount / total for category, amount in positive.items()}
    return {category: share for category, share in shares.items() if share > 0}  # tiny amounts underflow


def mix_from_choice(categories: Iterable[str]) -> Mix:
    """Equal shares over the chosen categories (for streamers without imported sales)."""
    chosen = list(dict.fromkeys(category for category in categories if category))
    if not chosen:
        return {}
    share = 1 / len(chosen)
    return dict.fromkeys(chosen, share)


def platform_mix(data: Iterable[Mapping[str, float]]) -> Mix:
    """The platform's share by category: every streamer's mapping summed, then normalised.

    Given raw 30-day sales (GMV by category, one mapping per streamer) this is the platform's
    GMV share by category, which is what the product means by "the platform's mix". Given mixes
    instead, every streamer weighs the same.
    """
    totals: dict[str, float] = {}
    for mapping in data:
        for category, amount in mapping.items():
            if category and math.isfinite(amount) and amount > 0:
                totals[category] = totals.get(category, 0.0) + float(amount)
    return mix_from_sales(totals)
