"""Each streamer's local day and digest slot (pure: time zones and wall-clock times)."""

from __future__ import annotations

import logging
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)


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


def resolve_zone(text: str) -> str | None:
    """An IANA zone name as typed (any case, full-width allowed), or None when there is no such zone."""
    name = unicodedata.normalize("NFKC", text).strip()
    if not name or len(name) > 64 or "/" not in name and name.upper() != "UTC":
        return None
    canonical = _zones_by_folded_name().get(name.casefold())
    if canonical is None:
        return None
    try:
        zoneinfo.ZoneInfo(canonical)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return canonical
