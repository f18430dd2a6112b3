"""The digest pass against the database: slots per time zone, catch-up, daylight saving, claims,
stale rows, idempotent re-runs. A recording sender stands in for Telegram (the fault tests in
test_digest_faults.py use the real aiogram Bot against the fake Bot API server).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from core.schedule import Schedule, slot_utc
from jobs.digest import run_digest_pass
from jobs.sender import Delivery, Outcome, Outgoing
from storage import deliveries, pick_history, profiles
from storage.tables import DigestDelivery, User
from tests.test_digest_helpers import (
    make_settings,
    picks_sent,
    platform_with_peers,
    put_user,
    rows_by_user,
    utc,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")


class RecordingSender:
    """Stands in for jobs.sender.Sender: records and answers every message with `outcome`."""

    def __init__(self, outcomes: dict[int, Delivery | Outcome] | None = None, delay: float = 0.0) -> None:
        self.sent: list[Outgoing] = []
        self.outcomes = outcomes or {}
        self.delay = delay
        self._ids = iter(range(1, 10**9))

    async def send(self, out: Outgoing) -> Delivery:
        if self.delay:
            await asyncio.sleep(self.delay)
        planned = self.outcomes.get(out.chat_id, Outcome.SENT)
        if isinstance(planned, Delivery):
            return dataclasses.replace(planned, outgoing=out)
        self.sent.append(out)
        if planned == Outcome.SENT:
            return Delivery(out, Outcome.SENT, next(self._ids), None, 1)
        return Delivery(out, planned, None, f"{planned.value} by test", 1)

    def chats(self) -> Counter[int]:
        return Counter(
            out.chat_id for out in self.sent if self.outcomes.get(out.chat_id, Outcome.SENT) == Outcome.SENT
        )


async def _pass(db, sender, *, at, **kwargs):
    return await run_digest_pass(db.sessionmaker, make_settings(db.url), sender, now=at, **kwargs)


async def _streamers(db, *ids: int, **fields) -> None:
    async with db.sessionmaker() as session:
        for telegram_id in ids:
            await put_user(session, telegram_id, **fields)
        await session.commit()


@pytest.fixture
async def platform(db):
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await session.commit()
    return db


# --------------------------------------------------------------------------- pure time


def test_slots_resolve_once_on_daylight_saving_days() -> None:
    # Spring forward (2026-03-08, 02:00 -> 03:00 in New York): 02:30 does not exist; it is 03:30 EDT.
    assert slot_utc(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 30)
    # Fall back (2026-11-01, 02:00 -> 01:00): 01:30 happens twice; the first one counts.
    assert slot_utc(date(2026, 11, 1), time(1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert slot_utc(date(2026, 11, 24), time(9, 0), SHANGHAI) == utc(2026, 11, 24, 1, 0)


def test_schedule_defaults_and_due(tmp_path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    default = Schedule.of(None, None, settings)
    assert default.zone.key == "Asia/Shanghai" and default.at == time(9, 0)
    assert not default.due(utc(2026, 11, 24, 0, 59)) and default.due(utc(2026, 11, 24, 1, 0))
    assert Schedule.of("Not/AZone", "25:99", settings) == default  # bad stored values fall back
    london = Schedule.of("Europe/London", "07:15", settings)
    assert london.today(utc(2026, 11, 24, 23, 30)) == date(2026, 11, 24)
    assert london.due(utc(2026, 11, 24, 7, 15))


# --------------------------------------------------------------------------- the pass


async def test_each_streamer_gets_one_digest_at_their_local_time(platform) -> None:
    db = platform
    await _streamers(db, 1, 2)  # default: 09:00 Asia/Shanghai = 01:00 UTC
    await _streamers(db, 3, timezone="Europe/London", digest_time="08:00")  # 08:00 UTC in winter
    await _streamers(db, 4, digest_enabled=False)
    await _streamers(db, 5, active=False)
    sender = RecordingSender()

    report = await _pass(db, sender, at=utc(2026, 11, 24, 0, 59))
    assert sender.chats() == Counter() and report.created == 0
    await _pass(db, sender, at=utc(2026, 11, 24, 1, 0))
    assert sender.chats() == Counter({1: 1, 2: 1})
    await _pass(db, sender, at=utc(2026, 11, 24, 7, 0))
    assert sender.chats() == Counter({1: 1, 2: 1})
    await _pass(db, sender, at=utc(2026, 11, 24, 8, 1))
    await _pass(db, sender, at=utc(2026, 11, 24, 12, 0))
    assert sender.chats() == Counter({1: 1, 2: 1, 3: 1})

    async with db.sessionmaker() as session:
        rows = await rows_by_user(session)
        assert set(rows) == {1, 2, 3}
        for telegram_id in (1, 2, 3):
            [row] = rows[telegram_id]
            assert row.status == "sent" and row.message_id and row.attempts == 1
            assert row.local_date == date(2026, 11, 24)
            sent = await picks_sent(session, telegram_id)
            assert [sku for sku, _ in sent] == sorted(row.skus.split(";")) and len(sent) == 5
    text = sender.sent[0].text
    assert "每日选品推荐" in text and "2026-11-24" in text and "商品编号" in text
    assert sender.sent[0].reply_markup is not None

    # The next local day: everyone again, and no pick of yesterday's repeats.
    await _pass(db, sender, at=utc(2026, 11, 25, 1, 0))
    first, second = [o for o in sender.sent if o.chat_id == 1]
    assert not set(first.text.split("<code>")[1:]) & set(second.text.split("<code>")[1:])


async def test_a_missed_slot_is_caught_up_the_same_day_only(platform) -> None:
    db = platform
    await _streamers(db, 1)
    sender = RecordingSender()
    # The bot was down at 09:00 and comes back at 23:30 Shanghai: still the same local day.
    await _pass(db, sender, at=utc(2026, 11, 24, 15, 30))
    assert sender.chats() == Counter({1: 1})
    # Down the whole of the 25th: nothing for the 25th is sent on the 26th before the slot...
    await _pass(db, sender, at=utc(2026, 11, 25, 16, 30))  # 00:30 on the 26th in Shanghai
    assert sender.chats() == Counter({1: 1})
    async with db.sessionmaker() as session:
        assert [r.local_date for r in (await rows_by_user(session))[1]] == [date(2026, 11, 24)]
    # ...and a row left pending for a day that is over expires instead of going out late.
    async with db.sessionmaker() as session:
        await deliveries.add_delivery_row(1, date(2026, 11, 25), session=session)
        await session.commit()
    report = await _pass(db, sender, at=utc(2026, 11, 26, 1, 0))
    assert report.expired == 1
    assert sender.chats() == Counter({1: 2})
    async with db.sessionmaker() as session:
        rows = {r.local_date: r for r in (await rows_by_user(session))[1]}
    assert rows[date(2026, 11, 25)].status == "failed" and "expired" in (rows[date(2026, 11, 25)].error or "")
    assert rows[date(2026, 11, 26)].status == "sent"


async def test_daylight_saving_days_send_exactly_once(sqlite_db) -> None:
    db = sqlite_db
    async with db.sessionmaker() as session:
        await platform_with_peers(session)
        await session.commit()
    await _streamers(db, 1, timezone="America/New_York", digest_time="02:30")  # skipped in spring
    await _streamers(db, 2, timezone="America/New_York", digest_time="01:30")  # repeated in autumn
    await _streamers(db, 3, timezone="America/New_York")  # 09:00
    sender = RecordingSender()
    for start in (utc(2026, 3, 8, 4, 0), utc(2026, 11, 1, 3, 0)):  # local midnight-ish, 26 hours of passes
        for step in range(0, 26 * 60, 15):
            await _pass(db, sender, at=start + timedelta(minutes=step))
    async with db.sessionmaker() as session:
        rows = await rows_by_user(session)
    for telegram_id in (1, 2, 3):
        days = Counter(r.local_date for r in rows[telegram_id])
        assert days[date(2026, 3, 8)] == 1 and days[date(2026, 11, 1)] == 1, (telegram_id, days)
        assert all(n == 1 for n in days.values())
        sent = [r for r in rows[telegram_id] if r.status == "sent"]
        assert sender.chats()[telegram_id] == len(sent)  # one message per sent row, no more
        assert {r.status for r in rows[telegram_id]} <= {"sent", "skipped"}  # skipped: picks ran out
        assert {date(2026, 3, 8), date(2026, 11, 1)} <= {r.local_date for r in sent}


async def test_digest_send_is_idempotent_and_ignores_the_hour(platform) -> None:
    db = platform
    await _streamers(db, 1, 2)
    sender = RecordingSender()
    first = await _pass(db, sender, at=utc(2026, 11, 23, 20, 0), force=True)  # 04:00 in Shanghai
    again = await _pass(db, sender, at=utc(2026, 11, 23, 20, 5), force=True)
    assert first.outcomes["sent"] == 2 and again.outcomes["sent"] == 0 and again.created == 0
    assert sender.chats() == Counter({1: 1, 2: 1})
    assert "sent 2" in first.summary() and "sent 0" in again.summary()
    # An explicit date: that local date for everyone, whatever today is.
    other = await _pass(db, sender, at=utc(2026, 11, 23, 20, 10), on_date=date(2026, 12, 1))
    assert other.outcomes["sent"] == 2 and other.dates == [date(2026, 12, 1)]
    # The scheduled pass on Dec 1st finds the day already done.
    await _pass(db, sender, at=utc(2026, 12, 1, 2, 0))
    assert sender.chats() == Counter({1: 2, 2: 2})


async def test_two_passes_at_once_send_each_digest_once(platform) -> None:
    db = platform
    ids = list(range(100, 160))
    await _streamers(db, *ids)
    first, second = RecordingSender(delay=0.02), RecordingSender(delay=0.02)
    at = utc(2026, 11, 24, 1, 0)
    reports = await asyncio.gather(
        _pass(db, first, at=at, batch=4, workers=3), _pass(db, second, at=at, batch=4, workers=3)
    )
    both = first.chats() + second.chats()
    assert both == Counter({i: 1 for i in ids})
    assert first.sent and second.sent  # both passes did work
    assert sum(r.outcomes["sent"] for r in reports) == len(ids)
    async with db.sessionmaker() as session:
        rows = await rows_by_user(session)
    assert all(len(rows[i]) == 1 and rows[i][0].status == "sent" for i in ids)


async def test_claims_are_exclusive_and_leases_expire(db) -> None:
    await _streamers(db, 1, 2, 3)
    at = utc(2026, 11, 24, 1, 0)
    async with db.sessionmaker() as session:
        assert await deliveries.create_rows(date(2026, 11, 24), now=at, session=session) == 3
        assert await deliveries.create_rows(date(2026, 11, 24), now=at, session=session) == 0
        await session.commit()
    lease = timedelta(minutes=2)
    day = {date(2026, 11, 24)}
    async with db.sessionmaker() as a, db.sessionmaker() as b:
        mine = await deliveries.claim_rows("A", day, now=at, lease=lease, limit=2, session=a)
        await a.commit()
        theirs = await deliveries.claim_rows("B", day, now=at, lease=lease, limit=10, session=b)
        await b.commit()
    assert len(mine) == 2 and len(theirs) == 1
    assert not {r.id for r in mine} & {r.id for r in theirs}
    async with db.sessionmaker() as session:
        # B cannot put A's row on the wire; A can.
        assert not await deliveries.mark_on_wire(mine[0].id, "B", now=at, session=session)
        assert await deliveries.mark_on_wire(mine[0].id, "A", now=at, session=session)
        # After the lease, A's other (never sent) row may be taken; the one on the wire may not.
        later = at + lease + timedelta(seconds=1)
        taken = await deliveries.claim_rows("C", day, now=later, lease=lease, limit=10, session=session)
        await session.commit()
    assert sorted(r.id for r in taken) == sorted([mine[1].id, theirs[0].id])
    async with db.sessionmaker() as session:
        assert not await deliveries.mark_on_wire(mine[1].id, "A", now=later, session=session)
        assert await deliveries.finish_row(mine[0].id, "A", "sent", now=later, message_id=5, session=session)
        assert not await deliveries.finish_row(mine[0].id, "A", "sent", now=later, session=session)
        await session.commit()


async def test_batched_transitions_touch_only_the_rows_the_claim_holds(db) -> None:
    """mark_many_on_wire, finish_rows and record_many_picks: the group-committed forms the pass uses
    (one statement each on PostgreSQL, whatever the number of rows)."""
    await _streamers(db, 1, 2, 3, 4)
    at, day = utc(2026, 11, 24, 1, 0), date(2026, 11, 24)
    lease = timedelta(minutes=2)
    async with db.sessionmaker() as session:
        await deliveries.create_rows(day, now=at, session=session)
        a1, a2, a3 = await deliveries.claim_rows("A", {day}, now=at, lease=lease, limit=3, session=session)
        [b1] = await deliveries.claim_rows("B", {day}, now=at, lease=lease, limit=3, session=session)
        await session.commit()
    async with db.sessionmaker() as session:
        on_wire = await deliveries.mark_many_on_wire([a1.id, a2.id, b1.id], "A", now=at, session=session)
        assert on_wire == {a1.id, a2.id}
        closed = await deliveries.finish_rows(
            [
                deliveries.Finish(a1.id, "sent", message_id=2**31 - 1, skus=("s1", "s2")),
                deliveries.Finish(a2.id, "failed", error="x" * 400, attempts=5),
                deliveries.Finish(a3.id, "sent", message_id=9),  # never on the wire, still ours
                deliveries.Finish(b1.id, "sent", message_id=8),  # B's claim: not ours to close
            ],
            "A",
            now=at,
            session=session,
        )
        assert closed == {a1.id, a2.id, a3.id}
        again = [deliveries.Finish(a1.id, "failed", error="late")]
        assert await deliveries.finish_rows(again, "A", now=at, session=session) == set()
        await session.commit()
    async with db.sessionmaker() as session:
        rows = {row.id: row for row in (await session.exec(select(DigestDelivery))).all()}
    assert (rows[a1.id].status, rows[a1.id].message_id, rows[a1.id].skus) == ("sent", 2**31 - 1, "s1;s2")
    assert rows[a1.id].attempts == 1 and rows[a1.id].error is None  # the count kept; no error
    assert (rows[a2.id].status, rows[a2.id].attempts, rows[a2.id].error) == ("failed", 5, "x" * 300)
    assert (rows[a3.id].status, rows[a3.id].attempts) == ("sent", 0)
    assert (rows[b1.id].status, rows[b1.id].claimed_by) == ("pending", "B")
    async with db.sessionmaker() as session:
        entries = [(1, ["x", "y"], day), (2, ["x"], day)]
        assert await pick_history.record_many_picks(entries, session=session) == 3
        more = [(1, ["y", "z"], day), (1, ["x"], day + timedelta(days=1))]
        assert await pick_history.record_many_picks(more, session=session) == 2
        await session.commit()
        assert await picks_sent(session, 1) == [
            ("x", day),
            ("x", day + timedelta(days=1)),
            ("y", day),
            ("z", day),
        ]
        assert await picks_sent(session, 2) == [("x", day)]


async def test_rows_left_sending_are_unknown_not_resent_and_dead_claims_are_resent(platform) -> None:
    db = platform
    await _streamers(db, 1, 2, 3)
    at = utc(2026, 11, 24, 1, 0)
    async with db.sessionmaker() as session:
        await deliveries.create_rows(date(2026, 11, 24), now=at, session=session)
        day = {date(2026, 11, 24)}
        lease = timedelta(minutes=2)
        rows = await deliveries.claim_rows("dead", day, now=at, lease=lease, limit=2, session=session)
        await deliveries.mark_on_wire(rows[0].id, "dead", now=at, session=session)  # killed mid-request
        await session.commit()
    on_wire, claimed = rows[0].telegram_id, rows[1].telegram_id
    sender = RecordingSender()
    # One minute later: the dead claim still holds; only the unclaimed row goes; nothing is failed yet.
    report = await _pass(db, sender, at=at + timedelta(minutes=1))
    assert sender.chats() == Counter({3: 1}) and report.stale == 0
    # Eleven minutes later: the claim has lapsed (sent now); the row on the wire is failed, not re-sent.
    report = await _pass(db, sender, at=at + timedelta(minutes=11))
    assert sender.chats() == Counter({3: 1, claimed: 1}) and report.stale == 1
    async with db.sessionmaker() as session:
        [row] = (await rows_by_user(session))[on_wire]
    assert row.status == "unknown" and "outcome unknown" in (row.error or "")
    await _pass(db, sender, at=at + timedelta(minutes=30))
    assert on_wire not in sender.chats()


async def test_blocked_and_invalid_chats_are_deactivated(platform) -> None:
    db = platform
    await _streamers(db, 1, 2, 3)
    sender = RecordingSender({2: Outcome.BLOCKED, 3: Outcome.INVALID})
    report = await _pass(db, sender, at=utc(2026, 11, 24, 1, 0))
    assert report.outcomes == Counter({"sent": 1, "blocked": 1, "invalid": 1})
    async with db.sessionmaker() as session:
        rows = await rows_by_user(session)
        users = {u.telegram_id: u.active for u in (await session.exec(select(User))).all()}
        assert await picks_sent(session, 2) == []
    assert [rows[i][0].status for i in (1, 2, 3)] == ["sent", "blocked", "invalid"]
    assert users == {1: True, 2: False, 3: False}
    # Not written to again while inactive.
    await _pass(db, sender, at=utc(2026, 11, 25, 1, 0))
    async with db.sessionmaker() as session:
        assert set(await rows_by_user(session)) == {1, 2, 3}
        assert len((await rows_by_user(session))[2]) == 1


async def test_a_flood_limited_pass_stops_and_leaves_the_rest_pending(platform) -> None:
    db = platform
    await _streamers(db, 1, 2, 3, 4)
    # The sender says "refused, retry after 9 s" as a value; the pass reads no error text.
    flood = Delivery(Outgoing(0, ""), Outcome.FAILED, None, "flood control", 5, retry_after=9.0)
    sender = RecordingSender({1: flood})
    report = await _pass(db, sender, at=utc(2026, 11, 24, 1, 0), workers=1)
    assert report.stopped and "429" in report.stopped and report.requeued == 1
    assert sender.chats() == Counter()
    async with db.sessionmaker() as session:
        statuses = {i: rows[0].status for i, rows in (await rows_by_user(session)).items()}
        claims = (await session.exec(select(DigestDelivery.claimed_by))).all()
    assert statuses == {1: "pending", 2: "pending", 3: "pending", 4: "pending"}
    assert claims == [None] * 4  # given back at once
    # Flood over: the next pass sends all of them, once.
    ok = RecordingSender()
    await _pass(db, ok, at=utc(2026, 11, 24, 1, 1))
    assert ok.chats() == Counter({1: 1, 2: 1, 3: 1, 4: 1})


async def test_an_error_text_that_mentions_429_is_not_a_flood(platform) -> None:
    db = platform
    await _streamers(db, 1, 2)
    # No retry_after: a plain failure (the outcome of the request is not known), not a refusal.
    failed = Delivery(Outgoing(0, ""), Outcome.FAILED, None, "Too Many Requests: retry_after 9", 5)
    report = await _pass(db, RecordingSender({1: failed}), at=utc(2026, 11, 24, 1, 0), workers=1)
    assert report.requeued == 0 and report.stopped is None
    assert report.outcomes["failed"] == 1 and report.outcomes["sent"] == 1


async def test_repeated_failures_stop_the_pass(platform) -> None:
    db = platform
    await _streamers(db, *range(1, 11))
    down = Delivery(Outgoing(0, ""), Outcome.FAILED, None, "TelegramServerError: Bad Gateway", 5)
    sender = RecordingSender(dict.fromkeys(range(1, 11), down))
    report = await _pass(db, sender, at=utc(2026, 11, 24, 1, 0), workers=1, batch=2)
    assert report.outcomes["failed"] == 3 and report.stopped
    async with db.sessionmaker() as session:
        counts = await deliveries.delivery_counts(session=session)
    assert counts == {"failed": 3, "pending": 7}


async def test_nothing_to_pick_is_skipped_not_sent(db) -> None:
    await _streamers(db, 1)  # an empty catalog
    sender = RecordingSender()
    report = await _pass(db, sender, at=utc(2026, 11, 24, 1, 0))
    assert report.outcomes == Counter({"skipped": 1}) and not sender.sent
    async with db.sessionmaker() as session:
        [row] = (await rows_by_user(session))[1]
    assert row.status == "skipped" and row.error == "no picks"


async def test_digests_turned_off_after_the_row_was_made_are_skipped(platform) -> None:
    db = platform
    await _streamers(db, 1)
    async with db.sessionmaker() as session:
        await deliveries.create_rows(date(2026, 11, 24), now=utc(2026, 11, 24, 1, 0), session=session)
        await profiles.set_digest(1, language="zh", enabled=False, session=session)
        await session.commit()
    sender = RecordingSender()
    await _pass(db, sender, at=utc(2026, 11, 24, 1, 0), on_date=date(2026, 11, 24))
    assert not sender.sent
