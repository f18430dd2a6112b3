"""One local date for each user, and /tz by city name or by button; through the real dispatcher."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH

from core.schedule import CITIES_PATH, cities, parse_cities, resolve_zone
from handlers.picks import ZoneCb
from storage.tables import TierChange, User
from tests.conftest import ADMIN_ID
from tests.factories import bind_merchant, import_rows, product_row
from tests.harness import buttons, plain, texts

ME = 1001
MERCHANT = 2001
USUAL = [
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
]
# 20:00 UTC on 28 February: already 1 March in Shanghai and Tokyo, still 28 February in Los Angeles.
MOVED_AT = datetime(2026, 2, 28, 20, 0, tzinfo=UTC)


async def zone_of(services, telegram_id: int) -> str | None:
    async with services.sessionmaker() as session:
        user = await session.get(User, telegram_id)
    return None if user is None else user.timezone


# --------------------------------------------------------------------------- /tz


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("北京", "Asia/Shanghai"),
        ("上海", "Asia/Shanghai"),
        ("东京", "Asia/Tokyo"),
        ("東京", "Asia/Tokyo"),
        ("柏林", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("shanghai", "Asia/Shanghai"),
        ("london", "Europe/London"),
        ("new york", "America/New_York"),
        ("NEW_YORK", "America/New_York"),
        ("香港", "Asia/Hong_Kong"),
        ("asia/tokyo", "Asia/Tokyo"),  # an IANA name in any case
        ("Ｂｅｒｌｉｎ", "Europe/Berlin"),  # full-width
    ],
)
async def test_tz_takes_a_city_name(chat, services, typed: str, zone: str) -> None:
    [reply] = texts(await chat.message(ME, f"/tz {typed}"))
    assert f"<b>{zone}</b>" in reply and reply.startswith("✅")
    assert await zone_of(services, ME) == zone


async def test_tz_without_a_zone_offers_the_usual_ones(chat, services) -> None:
    [reply] = [r for r in await chat.message(ME, "/tz") if type(r).__name__ == "SendMessage"]
    assert "Asia/Shanghai" in plain(reply.text)  # the current zone (the default)
    data = [d for _label, d in buttons(reply)]
    assert data == [ZoneCb(zone=z).pack() for z in USUAL]
    assert all(len(d.encode()) <= MAX_CALLBACK_LENGTH for d in data if d)
    labels = [label for label, _ in buttons(reply)]
    assert labels[0].startswith("北京 · UTC+8") and labels[3].startswith("东京 · UTC+9")
    en = [r for r in await chat.message(ME, "/tz", lang="en") if type(r).__name__ == "SendMessage"][0]
    assert [label for label, _ in buttons(en)][6].startswith("Berlin · UTC+")

    requests = await chat.callback(ME, ZoneCb(zone="Asia/Tokyo").pack())
    [edit] = [r for r in requests if type(r).__name__ == "EditMessageText"]
    assert "<b>Asia/Tokyo</b>" in edit.text
    assert await zone_of(services, ME) == "Asia/Tokyo"


async def test_an_unknown_name_is_refused_with_the_buttons_and_changes_nothing(chat, services) -> None:
    await chat.message(ME, "/tz Berlin")
    [reply] = [r for r in await chat.message(ME, "/tz 火星基地") if type(r).__name__ == "SendMessage"]
    assert "火星基地" in reply.text and "用法" in reply.text
    assert len(buttons(reply)) == len(USUAL)
    forged = await chat.callback(ME, "tz:Mars/Base")
    assert [r.text for r in forged if type(r).__name__ == "AnswerCallbackQuery"] == [
        "这个按钮已失效，请重新发送 /tz。"
    ]
    assert await zone_of(services, ME) == "Europe/Berlin"


def test_every_name_in_the_city_file_resolves_to_its_zone() -> None:
    with CITIES_PATH.open("rb") as fh:
        data = tomllib.load(fh)
    for zone, names in data["zones"].items():
        for name in names:
            assert resolve_zone(name) == zone, name
    assert list(cities().usual) == USUAL
    assert resolve_zone("Atlantis") is None and resolve_zone("Asia/Atlantis") is None


def test_a_name_under_two_zones_is_an_error_in_the_file() -> None:
    with pytest.raises(ValueError, match="names both"):
        parse_cities({"zones": {"Asia/Tokyo": ["东京"], "Asia/Seoul": ["東京"]}, "usual": []})
    with pytest.raises(Exception, match="Mars"):
        parse_cities({"zones": {"Mars/Base": ["火星"]}, "usual": []})


# --------------------------------------------------------------------------- one local date


async def _product_that_moved(services) -> None:
    await import_rows(services, [product_row("TZ-1", "云朵 牙膏", merchant="M-TZ")])
    async with services.sessionmaker() as session:
        from storage.catalog import get_product

        record = await get_product("TZ-1", session=session)
        assert record is not None
        session.add(
            TierChange(
                product_id=record.item.id,
                old_tier="L3",
                new_tier="L5",
                new_score=90,
                moved_dimension="sales",
                changed_at=MOVED_AT,
            )
        )
        await bind_merchant(session, MERCHANT, "M-TZ")
        await session.commit()


def _history_line(requests: list[Any]) -> str:
    card = "\n".join(texts(requests))
    return next(line for line in plain(card).split("\n") if "L3 → L5" in line)


async def test_tier_history_is_dated_in_the_readers_zone(chat, services) -> None:
    await _product_that_moved(services)
    # An admin in Los Angeles: still 28 February there (UTC would say the same; Shanghai would not).
    await chat.message(ADMIN_ID, "/tz 洛杉矶")
    assert _history_line(await chat.message(ADMIN_ID, "/grade TZ-1")).startswith("2026-02-28")
    # ... who moves to Tokyo: it happened on 1 March there (UTC would still say 28 February).
    await chat.message(ADMIN_ID, "/tz Tokyo")
    assert _history_line(await chat.message(ADMIN_ID, "/grade TZ-1")).startswith("2026-03-01")
    # The merchant set no zone: the operator's default (Asia/Shanghai), never UTC.
    assert _history_line(await chat.message(MERCHANT, "/grade TZ-1")).startswith("2026-03-01")


async def test_the_picks_header_and_the_grade_card_use_the_same_zone(chat, services) -> None:
    await _product_that_moved(services)
    await chat.message(ADMIN_ID, "/tz Pacific/Kiritimati")  # UTC+14: most of the day, not UTC's date
    header = plain(texts(await chat.message(ADMIN_ID, "/picks"))[0]).split("\n")[0]
    assert header.endswith(datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat())
    assert _history_line(await chat.message(ADMIN_ID, "/grade TZ-1")).startswith(
        MOVED_AT.astimezone(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    )


async def test_an_invite_expires_on_the_admins_clock(chat, services) -> None:
    await import_rows(services, [product_row("INV-1", "云朵 牙膏", merchant="M-INV")])
    await chat.message(ADMIN_ID, "/tz 东京")
    [reply] = texts(await chat.message(ADMIN_ID, "/invite M-INV"))
    assert "(Asia/Tokyo)" in reply and "UTC" not in reply
