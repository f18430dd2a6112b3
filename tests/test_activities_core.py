"""The pure rules of activities (招商活动): what a 团长 types, floors and state by date."""

from __future__ import annotations

from datetime import date

import pytest

from core.activities import (
    Floor,
    ParseError,
    Problem,
    Refusal,
    State,
    parse_floors,
    parse_min_tier,
    parse_name,
    parse_period,
    parse_rate,
    refusal,
    state_on,
)

TODAY = date(2026, 12, 1)
KNOWN = {"美妆个护": "美妆个护", "beauty": "Beauty", "食品": "食品"}


def test_state_by_date_includes_both_ends() -> None:
    starts, ends = date(2026, 12, 1), date(2026, 12, 3)
    assert state_on(starts, ends, date(2026, 11, 30)) == State.UPCOMING
    assert state_on(starts, ends, starts) == State.OPEN
    assert state_on(starts, ends, ends) == State.OPEN
    assert state_on(starts, ends, date(2026, 12, 4)) == State.ENDED


def test_name_is_trimmed_and_bounded() -> None:
    assert parse_name("  双 12   美妆节 ") == "双 12 美妆节"
    with pytest.raises(ParseError) as empty:
        parse_name("   ")
    assert empty.value.problem == Problem.NAME_EMPTY
    with pytest.raises(ParseError) as long:
        parse_name("名" * 61)
    assert long.value.problem == Problem.NAME_LONG


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 2026-12-31", (date(2026, 12, 1), date(2026, 12, 31))),
        ("2026/12/01~2026/12/31", (date(2026, 12, 1), date(2026, 12, 31))),
        ("2026年12月1日至2026年12月31日", (date(2026, 12, 1), date(2026, 12, 31))),
        ("２０２６-１２-０１ to 2026-12-02", (date(2026, 12, 1), date(2026, 12, 2))),
        ("30", (TODAY, date(2026, 12, 30))),
        ("1", (TODAY, TODAY)),
    ],
)
def test_period_forms(text: str, expected: tuple[date, date]) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("next week", Problem.PERIOD_FORMAT),
        ("2026-02-30 2026-03-01", Problem.PERIOD_FORMAT),
        ("2026-12-31 2026-12-01", Problem.PERIOD_ORDER),
        ("2026-10-01 2026-10-31", Problem.PERIOD_PAST),
        ("2026-12-01 2028-12-01", Problem.PERIOD_LONG),
        ("0", Problem.PERIOD_LONG),
        ("400", Problem.PERIOD_LONG),
    ],
)
def test_bad_periods_say_why(text: str, problem: Problem) -> None:
    with pytest.raises(ParseError) as caught:
        parse_period(text, TODAY)
    assert caught.value.problem == problem


def test_rates() -> None:
    assert parse_rate("20%") == 0.2
    assert parse_rate("20") == 0.2
    assert parse_rate("0.15") == 0.15
    assert parse_rate("１５％") == 0.15
    for bad in ("0", "-5", "150%", "nan", "abc"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_floors_one_a_line_matching_known_categories() -> None:
    floors = parse_floors("美妆个护 20%\nbeauty 15；食品 0.1", KNOWN)
    assert floors == [Floor("美妆个护", 0.2), Floor("Beauty", 0.15), Floor("食品", 0.1)]


@pytest.mark.parametrize(
    ("text", "problem", "detail"),
    [
        ("美妆个护", Problem.FLOOR_FORMAT, "美妆个护"),
        ("美妆个护 lots", Problem.FLOOR_RATE, "lots"),
        ("数码 20%", Problem.FLOOR_CATEGORY, "数码"),
        ("", Problem.FLOOR_FORMAT, ""),
    ],
)
def test_bad_floors_name_the_part(text: str, problem: Problem, detail: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_floors(text, KNOWN)
    assert (caught.value.problem, caught.value.detail) == (problem, detail)


def test_min_tier() -> None:
    assert parse_min_tier("l3") == "L3"
    assert parse_min_tier("4") == "L4"
    assert parse_min_tier("不限") is None
    assert parse_min_tier("skip") is None
    for bad in ("L0", "L9", "gold"):
        with pytest.raises(ParseError):
            parse_min_tier(bad)


def test_refusal_names_the_floor_missed() -> None:
    floors = {"美妆个护": 0.2}
    ok = dict(category="美妆个护", rate=0.2, tier="L4", floors=floors, min_tier="L3")
    assert refusal(**ok) is None  # type: ignore[arg-type]
    assert refusal(**{**ok, "rate": 0.19}) == Refusal.COMMISSION  # type: ignore[arg-type]
    assert refusal(**{**ok, "tier": "L2"}) == Refusal.TIER  # type: ignore[arg-type]
    assert refusal(**{**ok, "category": "食品"}) == Refusal.CATEGORY  # type: ignore[arg-type]
    assert refusal(**{**ok, "tier": "L1", "min_tier": None}) is None  # type: ignore[arg-type]
