"""招商活动 (a 团长's activities): the pure rules — parsing what a 团长 types, floors, and state by date.

An activity has a name, a period (first and last day, both included), categories with a minimum
commission each, and optionally a minimum tier. A product enters only at or above its category's
floor and the tier floor; `refusal` says which floor it misses. An activity is upcoming before its
first day, open through its last, and ended after it: nothing needs to close it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from core.catalog import TIERS, tier_rank

NAME_MAX = 60
MAX_DAYS = 366  # a period longer than a year is a typo
MAX_CATEGORIES = 10


class State(StrEnum):
    UPCOMING = "upcoming"
    OPEN = "open"
    ENDED = "ended"


def state_on(starts: date, ends: date, today: date) -> State:
    """Where an activity stands on `today` (its period includes both ends)."""
    if today < starts:
        return State.UPCOMING
    if today > ends:
        return State.ENDED
    return State.OPEN


@dataclass(frozen=True, slots=True)
class Floor:
    """A category and the least commission (0..1) a product in it must pay to enter."""

    category: str
    min_commission: float


@dataclass(frozen=True, slots=True)
class Mark:
    """What a team streamer sees on an approved product: the activity and the commission it carries."""

    activity_id: int
    name: str
    rate: float


class Problem(StrEnum):
    """Why a step of the guided chat (or a submission) is refused; the locales word each one."""

    NAME_EMPTY = "name_empty"
    NAME_LONG = "name_long"
    PERIOD_FORMAT = "period_format"
    PERIOD_ORDER = "period_order"
    PERIOD_PAST = "period_past"
    PERIOD_LONG = "period_long"
    FLOOR_FORMAT = "floor_format"
    FLOOR_RATE = "floor_rate"
    FLOOR_CATEGORY = "floor_category"
    FLOOR_TOO_MANY = "floor_too_many"
    TIER = "tier"


class ParseError(ValueError):
    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.detail = detail


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def parse_name(text: str) -> str:
    name = " ".join(_fold(text).split())
    if not name:
        raise ParseError(Problem.NAME_EMPTY)
    if len(name) > NAME_MAX:
        raise ParseError(Problem.NAME_LONG, str(NAME_MAX))
    return name


_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"


def parse_period(text: str, today: date) -> tuple[date, date]:
    """`2026-12-01 2026-12-31` (any of ~ 至 to between), or a number of days from today (`30`)."""
    text = _fold(text)
    if text.isdigit():
        days = int(text)
        if not 1 <= days <= MAX_DAYS:
            raise ParseError(Problem.PERIOD_LONG, str(MAX_DAYS))
        return today, today + timedelta(days=days - 1)
    found = re.fullmatch(rf"{_DATE}\s*(?:~|～|-|—|至|到|to|\s)\s*{_DATE}", text, flags=re.IGNORECASE)
    if found is None:
        raise ParseError(Problem.PERIOD_FORMAT)
    y1, m1, d1, y2, m2, d2 = (int(x) for x in found.groups())
    try:
        starts, ends = date(y1, m1, d1), date(y2, m2, d2)
    except ValueError as exc:
        raise ParseError(Problem.PERIOD_FORMAT) from exc
    if ends < starts:
        raise ParseError(Problem.PERIOD_ORDER)
    if ends < today:
        raise ParseError(Problem.PERIOD_PAST)
    if (ends - starts).days + 1 > MAX_DAYS:
        raise ParseError(Problem.PERIOD_LONG, str(MAX_DAYS))
    return starts, ends


def parse_rate(text: str) -> float:
    """`20%`, `20`, `0.2` -> 0.2; anything else or outside (0, 100%] raises ValueError."""
    text = _fold(text).rstrip("%％").strip()
    value = float(text)
    if value >= 1:
        value /= 100
    if not (math.isfinite(value) and 0 < value <= 1):
        raise ValueError(text)
    return round(value, 4)


def parse_floors(text: str, known: dict[str, str]) -> list[Floor]:
    """One `category rate` per line (or `;`-separated). `known` maps a folded name to the stored one."""
    floors: dict[str, Floor] = {}
    for raw in re.split(r"[\n;；,，]+", _fold(text)):
        part = raw.strip()
        if not part:
            continue
        name, _, rate_text = part.rpartition(" ")
        name = name.strip()
        if not name or not rate_text:
            raise ParseError(Problem.FLOOR_FORMAT, part[:40])
        try:
            rate = parse_rate(rate_text)
        except ValueError as exc:
            raise ParseError(Problem.FLOOR_RATE, rate_text[:16]) from exc
        category = known.get(name.casefold())
        if category is None:
            raise ParseError(Problem.FLOOR_CATEGORY, name[:40])
        floors[category] = Floor(category, rate)
    if not floors:
        raise ParseError(Problem.FLOOR_FORMAT, "")
    if len(floors) > MAX_CATEGORIES:
        raise ParseError(Problem.FLOOR_TOO_MANY, str(MAX_CATEGORIES))
    return list(floors.values())


_NO_TIER = {"-", "0", "none", "no", "skip", "不限", "无", "跳过"}


def parse_min_tier(text: str) -> str | None:
    """`L3` (or `3`) -> "L3"; 不限/skip -> None."""
    text = _fold(text).upper()
    if text.casefold() in _NO_TIER:
        return None
    tier = text if text.startswith("L") else f"L{text}"
    if tier not in TIERS or tier == "L0":
        raise ParseError(Problem.TIER)
    return tier


class Refusal(StrEnum):
    """Why a product may not enter an activity."""

    CATEGORY = "category"  # not one of the activity's categories
    COMMISSION = "commission"  # below the category's floor
    TIER = "tier"  # below the activity's minimum tier
    NOT_OPEN = "not_open"  # upcoming or ended


def refusal(
    *, category: str, rate: float, tier: str, floors: dict[str, float], min_tier: str | None
) -> Refusal | None:
    """The floor a product misses, or None when it may enter (rate is what it would pay, 0..1)."""
    if category not in floors:
        return Refusal.CATEGORY
    if rate + 1e-9 < floors[category]:
        return Refusal.COMMISSION
    if min_tier is not None and tier_rank(tier) < tier_rank(min_tier):
        return Refusal.TIER
    return None
