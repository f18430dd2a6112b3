"""Each streamer's local day and digest slot (pure: time zones and wall-clock times)."""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.search.normalize import normalize

logger = logging.getLogger(__name__)

CITIES_PATH = Path(__file__).with_name("data") / "cities.toml"
_IGNORED = re.compile(r"[\s_.\-]+")  # "New York" = "new_york" = "NewYork"


def zone_of(name: str | None, default: str) -> ZoneInfo:
    """The streamer's zone, or the default one (also when a stored name no longer resolves)."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                logger.warning("unknown time zone %r", candidate)
    return ZoneInfo("UTC")


def parse_hhmm(text: str | None) -> time | None:
    """'9:05' / '09:05' -> time(9, 5); anything else -> None."""
    if not text:
        return None
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2 or len(hours) > 2:
        return None
    hour, minute = int(hours), int(minutes)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def slot_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """When `at` o'clock on `day` in `zone` happens, in UTC.

    A wall time skipped by a spring-forward change resolves to the same moment an hour later on
    the new clock, and a repeated one (autumn) to its first occurrence: there is exactly one slot
    per local day either way, and the unique (streamer, local date) row keeps it to one digest.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


class ScheduleDefaults(Protocol):
    """Where a streamer who set nothing gets their digest (the operator's settings)."""

    @property
    def default_timezone(self) -> str: ...

    @property
    def digest_time(self) -> time: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    """A streamer's digest setting, resolved."""

    zone: ZoneInfo
    at: time

    @classmethod
    def of(cls, zone_name: str | None, at: str | None, defaults: ScheduleDefaults) -> Schedule:
        return cls(zone_of(zone_name, defaults.default_timezone), parse_hhmm(at) or defaults.digest_time)

    def today(self, now: datetime) -> date:
        return local_today(now, self.zone)

    def due(self, now: datetime) -> bool:
        """Has today's slot come (in the streamer's local day)?"""
        return now >= slot_utc(self.today(now), self.at, self.zone)


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def _iana(text: str) -> str | None:
    """An IANA zone name as typed (any case), or None."""
    if "/" not in text and text.upper() != "UTC":
        return None
    canonical = _zones_by_folded_name().get(text.casefold())
    if canonical is None:
        return None
    try:
        zoneinfo.ZoneInfo(canonical)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return canonical


def _city_key(text: str) -> str:
    return _IGNORED.sub("", normalize(text))


@dataclass(frozen=True, slots=True)
class Cities:
    """core/data/cities.toml: names people type for a zone, and the zones /tz offers as buttons."""

    by_name: dict[str, str]  # folded name -> IANA zone
    names: dict[str, tuple[str, ...]]  # IANA zone -> its names, as written
    usual: tuple[str, ...]


def parse_cities(data: dict) -> Cities:
    """Build the city table from the mapping read from cities.toml (every zone checked to exist)."""
    by_name: dict[str, str] = {}
    names: dict[str, tuple[str, ...]] = {}
    for zone, written in data["zones"].items():
        ZoneInfo(zone)  # a typo in the file fails loudly here, not in a user's chat
        names[zone] = tuple(written)
        for name in written:
            key = _city_key(name)
            if by_name.get(key, zone) != zone:
                raise ValueError(f"cities.toml: {name!r} names both {by_name[key]} and {zone}")
            by_name[key] = zone
    usual = tuple(data["usual"])
    for zone in usual:
        ZoneInfo(zone)
    return Cities(by_name, names, usual)


@lru_cache(maxsize=1)
def cities() -> Cities:
    with CITIES_PATH.open("rb") as fh:
        return parse_cities(tomllib.load(fh))


def resolve_zone(text: str) -> str | None:
    """The IANA zone for what a user typed: a zone name in any case ("asia/tokyo"), or a city, region
    or country name in Chinese or English ("北京", "東京", "Berlin", "new york"); None if neither."""
    name = unicodedata.normalize("NFKC", text).strip()
    if not name or len(name) > 64:
        return None
    return _iana(name) or cities().by_name.get(_city_key(name))


def zone_label(zone: str, lang: str) -> str:
    """A zone as a button shows it: its first name ("北京"; for English readers "Beijing")."""
    written = cities().names.get(zone, ())
    if lang != "zh":
        written = tuple(n for n in written if not any("\u4e00" <= c <= "\u9fff" for c in n))
    return written[0] if written else zone


def utc_offset(zone: ZoneInfo, now: datetime) -> str:
    """'UTC+8', 'UTC-5', 'UTC+5:30' at `now` (summer time included)."""
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
