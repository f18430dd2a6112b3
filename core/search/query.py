"""Query parsing: the filters a streamer types along with the words (`L4+`, `<100`, `佣金20%+`)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = ["SearchFilters", "parse_query"]


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Filters parsed out of the query text."""

    min_tier: str | None = None  # `L4+`
    tier: str | None = None  # `L3`
    price_min: float | None = None  # CNY, inclusive
    price_max: float | None = None
    min_commission: float | None = None  # 0–1, `佣金20%+` → 0.2

    def __bool__(self) -> bool:
        return any(
            v is not None
            for v in (self.min_tier, self.tier, self.price_min, self.price_max, self.min_commission)
        )


_NUM = r"(\d+(?:\.\d+)?)"
_TIER_RE = re.compile(r"(?<![a-z0-9])l([0-5])\s*(\+|及以上|以上)?(?![a-z0-9])", re.IGNORECASE)
_COMMISSION_RES = (
    re.compile(rf"(?:佣金|佣)\s*(?:>=|≥|>|大于|超过|高于)?\s*{_NUM}\s*%\s*(?:\+|及以上|以上)?"),
    re.compile(rf"(?<![\d.]){_NUM}\s*%\s*(?:\+|及以上|以上)\s*(?:佣金|佣)?"),
    re.compile(rf"(?<![\d.]){_NUM}\s*%\s*(?:佣金|佣)"),
)
# A bare `a-b` is a price range unless a unit follows it (3-6岁, 2-3人, 1-2kg).
_UNIT_AFTER = r"(?![a-z0-9.%岁月年人个件只支瓶包盒片克斤米码寸升天周号段张双条套])"
_PRICE_RANGE_RE = re.compile(
    rf"(?<![a-z0-9.])[¥]?{_NUM}\s*(?:-|~|～|〜|到|至)\s*[¥]?{_NUM}\s*(?:元|块)?{_UNIT_AFTER}", re.IGNORECASE
)
_PRICE_MAX_RES = (
    re.compile(rf"(?:<=|≤|<|低于|小于|不超过|不到)\s*[¥]?{_NUM}\s*(?:元|块)?"),
    re.compile(rf"(?<![a-z0-9.]){_NUM}\s*(?:元|块)?\s*(?:以下|以内)", re.IGNORECASE),
)
_PRICE_MIN_RES = (
    re.compile(rf"(?:>=|≥|>|高于|大于|超过)\s*[¥]?{_NUM}\s*(?:元|块)?"),
    re.compile(rf"(?<![a-z0-9.]){_NUM}\s*(?:元|块)\s*以上", re.IGNORECASE),
)


def parse_query(query: str) -> tuple[str, SearchFilters]:
    """Split a query into its search text and the filters riding in it."""
    text = unicodedata.normalize("NFKC", query)
    values: dict[str, Any] = {}

    def take(pattern: re.Pattern[str], handle) -> None:
        nonlocal text
        for match in pattern.finditer(text):
            handle(match)
        text = pattern.sub(" ", text)

    def on_tier(m: re.Match[str]) -> None:
        tier = f"L{m.group(1)}"
        if m.group(2):
            values["min_tier"], values["tier"] = tier, None
        else:
            values["tier"], values["min_tier"] = tier, None

    def on_commission(m: re.Match[str]) -> None:
        values["min_commission"] = min(1.0, float(m.group(1)) / 100)

    def on_range(m: re.Match[str]) -> None:
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        values["price_min"], values["price_max"] = lo, hi

    def on_max(m: re.Match[str]) -> None:
        values["price_max"] = float(m.group(1))

    def on_min(m: re.Match[str]) -> None:
        values["price_min"] = float(m.group(1))

    take(_TIER_RE, on_tier)
    for pattern in _COMMISSION_RES:
        take(pattern, on_commission)
    take(_PRICE_RANGE_RE, on_range)
    for pattern in _PRICE_MAX_RES:
        take(pattern, on_max)
    for pattern in _PRICE_MIN_RES:
        take(pattern, on_min)
    return " ".join(text.split()), SearchFilters(**values)
