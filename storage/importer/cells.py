"""Cell parsers: a raw cell (str from CSV; str/int/float/bool/datetime from XLSX or Python) -> value.

A parser raises `Invalid` with the reason (and its params) when the cell cannot be taken.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from storage.importer.report import Reason

INT4_MAX = 2_147_483_647
INT8_MAX = 9_223_372_036_854_775_807
COUNT_MAX = 10_000_000  # more streamers than Douyin has is a typo, not a count
FACTOR_MAX = 1000.0  # price_index, lowest_price_ratio: ratios near 1

# Bidi embeddings/overrides/isolates and zero-width characters: they make a title read as
# something else in chat, and nobody types them on purpose.
_INVISIBLE = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010), 0xFEFF])

_SPACE = re.compile(r"\s")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DATE_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]0{1,2}:00(?::00)?)?")


class Invalid(Exception):
    """A cell that cannot be taken, and why."""

    def __init__(self, reason: Reason, **params: object) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.params = params


def cell_text(raw: Any) -> str:
    """What the user sees in the cell, as text."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def clean(s: str) -> str:
    """`s` without bidi controls and zero-width characters."""
    return s if s.isascii() else s.translate(_INVISIBLE)


def norm(raw: Any) -> str:
    """Stripped text with full-width digits, letters and punctuation folded (NFKC)."""
    s = (raw if raw.__class__ is str else cell_text(raw)).strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).strip()
    return s


def _number(raw: Any, reason: Reason, **params: object) -> float:
    cls = raw.__class__
    if cls is float or cls is int or cls is Decimal:
        value = float(raw)
    else:
        s = norm(raw)
        if not s:
            raise Invalid(Reason.REQUIRED)
        try:
            value = float(s)
        except ValueError:
            if "," in s and _THOUSANDS.fullmatch(s):
                value = float(s.replace(",", ""))
            else:
                raise Invalid(reason, **params) from None
        if "_" in s:
            raise Invalid(reason, **params)
    if not math.isfinite(value):
        raise Invalid(reason, **params)
    return value


def _shown(bound: float) -> int | float:
    return int(bound) if float(bound).is_integer() else bound


def positive_up_to(bound: float) -> Callable[[Any], float]:
    """A number > 0 and at most `bound` (a price, a ratio)."""

    def parse(raw: Any) -> float:
        value = _number(raw, Reason.POSITIVE)
        if value <= 0:
            raise Invalid(Reason.POSITIVE)
        if value > bound:
            raise Invalid(Reason.TOO_BIG, n=_shown(bound))
        return value

    return parse


def non_negative_up_to(bound: float) -> Callable[[Any], float]:
    """A number >= 0 and at most `bound` (a GMV)."""

    def parse(raw: Any) -> float:
        value = _number(raw, Reason.NON_NEGATIVE)
        if value < 0:
            raise Invalid(Reason.NON_NEGATIVE)
        if value > bound:
            raise Invalid(Reason.TOO_BIG, n=_shown(bound))
        return value

    return parse


positive = positive_up_to(FACTOR_MAX)


def between(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        value = _number(raw, Reason.RANGE, lo=lo, hi=hi)
        if not lo <= value <= hi:
            raise Invalid(Reason.RANGE, lo=lo, hi=hi)
        return value

    return parse


def rate(raw: Any) -> float:
    """0–1, or a percentage: "25%" -> 0.25."""
    if raw.__class__ is str or raw is None:
        s = norm(raw)
        if s.endswith("%"):
            value = _number(s[:-1], Reason.RATE) / 100
        else:
            value = _number(s, Reason.RATE)
    else:
        value = _number(raw, Reason.RATE)
    if not 0 <= value <= 1:
        raise Invalid(Reason.RATE)
    return value


def count(raw: Any) -> int:
    value = _number(raw, Reason.COUNT)
    if value < 0 or not value.is_integer():
        raise Invalid(Reason.COUNT)
    if value > COUNT_MAX:
        raise Invalid(Reason.TOO_BIG, n=COUNT_MAX)
    return int(value)


_FLAGS = {
    "1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "t": 1, "f": 0,
    "是": 1, "否": 0, "1.0": 1, "0.0": 0,
}  # fmt: skip


def flag(raw: Any) -> int:
    if raw.__class__ is bool:
        return int(raw)
    s = norm(raw)
    if not s:
        raise Invalid(Reason.REQUIRED)
    value = _FLAGS.get(s.lower())
    if value is None:
        raise Invalid(Reason.FLAG)
    return value


def telegram_id(raw: Any) -> int:
    if raw.__class__ is int:
        value = raw
    elif raw.__class__ is float:
        if not raw.is_integer():
            raise Invalid(Reason.TELEGRAM_ID)
        value = int(raw)
    else:
        s = norm(raw)
        if not s:
            raise Invalid(Reason.REQUIRED)
        if len(s) > 19:  # more digits than any int8; int() refuses over 4,300 digits anyway
            raise Invalid(Reason.TOO_BIG, n=INT8_MAX)
        if s.isdigit():
            value = int(s)
        else:
            number = _number(s, Reason.TELEGRAM_ID)
            if not number.is_integer():
                raise Invalid(Reason.TELEGRAM_ID)
            value = int(number)
    if value <= 0:
        raise Invalid(Reason.TELEGRAM_ID)
    if value > INT8_MAX:
        raise Invalid(Reason.TOO_BIG, n=INT8_MAX)
    return value


def text(max_len: int, *, fold: bool = False) -> Callable[[Any], str]:
    """Required text; `fold` applies NFKC (keys and names users type: sku, merchant, category)."""

    def parse(raw: Any) -> str:
        s = norm(clean(cell_text(raw))) if fold else clean(cell_text(raw)).strip()
        if not s:
            raise Invalid(Reason.REQUIRED)
        if len(s) > max_len:
            raise Invalid(Reason.TOO_LONG, n=max_len)
        return s

    return parse


def url(raw: Any) -> str | None:
    s = cell_text(raw).strip()
    if not s:
        return None
    if len(s) > 500:
        raise Invalid(Reason.TOO_LONG, n=500)
    try:
        parts = urlsplit(s)
    except ValueError:
        raise Invalid(Reason.URL) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _SPACE.search(s):
        raise Invalid(Reason.URL)
    return s


def tags(raw: Any) -> str:
    s = norm(clean(cell_text(raw)))  # NFKC turns the full-width '；' into ';'
    if not s:
        return ""
    found: list[str] = []
    for part in s.replace("；", ";").split(";"):
        tag = part.strip()
        if tag and tag not in found:
            found.append(tag)
    joined = ";".join(found)
    if len(joined) > 200:
        raise Invalid(Reason.TOO_LONG, n=200)
    return joined


def day(raw: Any) -> date | None:
    """An optional date: a date cell, or text written YYYY-MM-DD (or with slashes)."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if raw is not None and raw.__class__ is not str:
        raise Invalid(Reason.DATE)  # e.g. an Excel serial number in a cell not formatted as a date
    s = norm(raw)
    if not s:
        return None
    m = _DATE_RE.fullmatch(s)
    if not m:
        raise Invalid(Reason.DATE)
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Invalid(Reason.DATE) from None
