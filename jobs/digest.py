"""The daily digest pass (picks come from `bot.picks`, slots from `core.schedule`).

**The digest.** A pass (every minute from the scheduler; `python -m bot digest send` on demand):

1. fails rows left `sending` longer than `STALE_SENDING` (the process died mid-request: the outcome
   is unknown, so they are *not* re-sent) and expires pending rows of days that are over;
2. makes one `pending` row per eligible streamer whose local digest time has come today (their
   `/tz` and `/digest HH:MM`, else DEFAULT_TIMEZONE and DIGEST_TIME): a slot missed while the bot
   was down is caught up the same local day, and the unique (telegram_id, local_date) constraint
   makes the day's digest exist once, daylight-saving days included;
3. claims rows in small batches (a lease in `claimed_by`), renders their picks, and hands them to
   the shared `Sender`, a few workers at a time.

Right before each HTTP request a request middleware (`WireGuard`) moves the row to `sending` —
only if this pass still holds it — and a 429 moves it back (Telegram said "not delivered"). So a
row is `sending` only while a request for it may be on the wire, and it is marked `sent` (with
its picks recorded) as soon as that request returns. A pass killed at any point therefore leaves:
sent rows (never re-sent), claimed-but-unsent rows (free again once the lease runs out), and at
most one `sending` row per worker, whose fate is unknown (failed after `STALE_SENDING`).

No database transaction is open across a network call: every write is its own short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import time as _time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.picks import (
    PicksContext,
    batch_picks,
    picks_context,
)
from bot.settings import Settings
from core.schedule import Schedule, local_today, zone_of
from storage import deliveries, pick_history, users
from storage.tables import utcnow
from storage.users import STREAMER

if TYPE_CHECKING:
    from aiogram import Bot

    from jobs.sender import Delivery, Outgoing

logger = logging.getLogger(__name__)


CLAIM_LEASE = timedelta(minutes=2)
# Longer than any stretch a live pass keeps a row `sending` without touching it (one request is at
# most the sender's 30 s timeout, plus a backoff of at most 30 s before the next attempt).
STALE_SENDING = timedelta(minutes=10)
BATCH = 32
WORKERS = 8
STOP_AFTER_FAILURES = 3  # consecutive failed deliveries: Telegram is down, leave the rest for later


# --------------------------------------------------------------------------------------------
# The wire guard: a row is `sending` exactly while a request for it may be on the wire


class ClaimLost(Exception):  # noqa: N818 - a state, not a failure of ours
    """Our claim on a delivery row is gone (a lease ran out and another pass took it): do not send."""


@dataclass
class _WireRow:
    row_id: int
    chat_id: int
    token: str
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    requests: int = 0
    flood: bool = False  # the last answer was a 429


_WIRE: contextvars.ContextVar[_WireRow | None] = contextvars.ContextVar("digest_wire_row", default=None)


class WireGuard(BaseRequestMiddleware):
    """Bot request middleware: brackets the digest's own sendMessage calls with row state changes.

    It acts only inside a digest worker (a context variable names the row being sent); every other
    request of the bot passes straight through.
    """

    async def __call__(self, make_request, bot, method):  # type: ignore[no-untyped-def]
        wire = _WIRE.get()
        if wire is None or not isinstance(method, SendMessage) or method.chat_id != wire.chat_id:
            return await make_request(bot, method)
        async with wire.sessionmaker() as session:
            held = await deliveries.mark_on_wire(wire.row_id, wire.token, now=wire.clock(), session=session)
            await session.commit()
        if not held:
            raise ClaimLost(wire.row_id)
        wire.requests += 1
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter as exc:
            wire.flood = True
            async with wire.sessionmaker() as session:
                await deliveries.mark_off_wire(
                    wire.row_id,
                    wire.token,
                    f"429 retry after {exc.retry_after}s",
                    now=wire.clock(),
                    session=session,
                )
                await session.commit()
            raise
        wire.flood = False
        return response


def install_wire_guard(bot: Bot) -> None:
    """Add the guard to the bot's session once (the digest's bot is the one the shared sender uses)."""
    if not any(isinstance(m, WireGuard) for m in bot.session.middleware):
        bot.session.middleware(WireGuard())


# --------------------------------------------------------------------------------------------
# The pass


@dataclass
class PassReport:
    dates: list[date] = field(default_factory=list)
    created: int = 0
    stale: int = 0  # `sending` rows of a dead pass, failed (outcome unknown)
    expired: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # sent / blocked / invalid / failed / skipped
    requeued: int = 0  # flood-limited: back to pending for the next pass
    lost: int = 0  # claims taken over by another pass
    stopped: str | None = None
    seconds: float = 0.0

    def summary(self) -> str:
        days = ", ".join(d.isoformat() for d in self.dates) or "-"
        o = self.outcomes
        text = (
            f"digest {days}: {self.created} new, sent {o['sent']}, blocked {o['blocked']}, "
            f"invalid {o['invalid']}, failed {o['failed']}, skipped {o['skipped']} (no picks, or digests off)"
        )
        extras = [
            f"{n} {what}"
            for n, what in (
                (self.requeued, "left for the next pass"),
                (self.stale, "interrupted earlier, marked failed"),
                (self.expired, "expired"),
                (self.lost, "taken by another pass"),
            )
            if n
        ]
        if extras:
            text += "; " + ", ".join(extras)
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text + f" ({self.seconds:.1f}s)"


@dataclass
class _Item:
    row: deliveries.ClaimedRow
    out: Outgoing
    skus: list[str]


def _new_token() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _looks_like_flood(error: str | None) -> bool:
    """A sender's failure text that says Telegram refused the message (429), so it was not delivered."""
    if not error:
        return False
    return "RetryAfter" in error or "retry_after" in error or "Too Many Requests" in error


async def run_digest_pass(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: Any,
    *,
    bot: Bot | None = None,
    now: datetime | None = None,
    on_date: date | None = None,
    force: bool = False,
    workers: int = WORKERS,
    batch: int = BATCH,
    lease: timedelta = CLAIM_LEASE,
    stale_after: timedelta = STALE_SENDING,
    stop_after_failures: int = STOP_AFTER_FAILURES,
) -> PassReport:
    """One digest pass; safe to run concurrently with others (in this process or another replica).

    `bot` is the Bot under `sender`: given, the wire guard marks rows `sending` only while their
    request may be on the wire; without it a row is marked just before it is handed to the sender.
    `now` (UTC) shifts the pass's clock (tests). `on_date` sends that local date to every eligible
    streamer; `force` sends each streamer's today whatever the hour (`digest send`); neither: the
    scheduled pass, for those whose slot has come.
    """
    started = _time.monotonic()
    base = now or utcnow()

    def clock() -> datetime:
        return base + timedelta(seconds=_time.monotonic() - started)

    token = _new_token()
    report = PassReport()
    guarded = bot is not None
    if bot is not None:
        install_wire_guard(bot)

    # 1-2: housekeeping and today's rows, in one short transaction.
    async with sessionmaker() as session:
        report.stale = len(await deliveries.fail_stale_sending(base - stale_after, now=base, session=session))
        candidates = await deliveries.pending_past_candidates(
            not_after=base.date(), keep=on_date, now=base, lease=lease, session=session
        )
        over = [
            row_id
            for row_id, day, zone in candidates
            if day < local_today(base, zone_of(zone, settings.default_timezone))
        ]
        report.expired = await deliveries.expire_rows(over, now=base, lease=lease, session=session)
        dates: set[date] = set()
        if on_date is not None:
            dates.add(on_date)
            report.created = await deliveries.create_rows(on_date, now=base, session=session)
        else:
            for group in await deliveries.digest_groups(session=session):
                schedule = Schedule.of(*group, settings)
                today = schedule.today(base)
                dates.add(today)
                if force or schedule.due(base):
                    report.created += await deliveries.create_rows(
                        today, group=group, now=base, session=session
                    )
        await session.commit()
    report.dates = sorted(dates)
    if report.stale:
        logger.warning(
            "digest: %s rows were left sending by a dead pass; marked failed, not re-sent", report.stale
        )

    from bot.keyboards import picks_keyboard
    from jobs.sender import Outcome, Outgoing

    queue: deque[_Item] = deque()
    refill_lock = asyncio.Lock()
    exhausted = False
    failures_in_a_row = 0
    context: PicksContext | None = None

    def stop(reason: str) -> None:
        if report.stopped is None:
            report.stopped = reason
            logger.warning("digest pass stops: %s", reason)

    async def prepare(rows: list[deliveries.ClaimedRow]) -> None:
        nonlocal context
        skipped: list[tuple[deliveries.ClaimedRow, str, str]] = []
        wanted: list[deliveries.ClaimedRow] = []
        for row in rows:
            p = row.profile
            if row.role != STREAMER or not p.digest_enabled or not p.active:
                skipped.append((row, deliveries.SKIPPED, "digests off or chat unreachable"))
            elif on_date is None and row.local_date < Schedule.of(p.timezone, p.digest_time, settings).today(
                clock()
            ):
                skipped.append((row, deliveries.FAILED, "expired: the local day is over"))
            else:
                wanted.append(row)
        if wanted and context is None:
            context = await picks_context(sessionmaker)
        async with sessionmaker() as session:
            results = (
                await batch_picks(session, context, [(r.profile, r.local_date) for r in wanted])
                if context
                else []
            )
            for row, result in zip(wanted, results, strict=True):
                if not result.picks:
                    skipped.append((row, deliveries.SKIPPED, "no picks"))
                    continue
                lang = row.profile.language
                out = Outgoing(
                    chat_id=row.telegram_id,
                    text=result.as_text(lang, digest=True),
                    reply_markup=picks_keyboard(result, lang),
                    key=row.id,
                )
                queue.append(_Item(row, out, result.skus))
            for row, status, reason in skipped:
                await deliveries.finish_row(row.id, token, status, now=clock(), error=reason, session=session)
                if status == deliveries.SKIPPED:
                    report.outcomes[deliveries.SKIPPED] += 1
                else:
                    report.expired += 1
            await session.commit()

    async def next_item() -> _Item | None:
        nonlocal exhausted
        async with refill_lock:
            while not queue and not exhausted and report.stopped is None:
                async with sessionmaker() as session:
                    rows = await deliveries.claim_rows(
                        token, dates, now=clock(), lease=lease, limit=batch, session=session
                    )
                    await session.commit()
                    # Nothing won: done, unless another pass merely took the rows we aimed at.
                    if not rows and not await deliveries.has_free_rows(
                        dates, now=clock(), lease=lease, session=session
                    ):
                        exhausted = True
                        break
                if rows:
                    await prepare(rows)
            if report.stopped is not None or not queue:
                return None
            return queue.popleft()

    async def record(item: _Item, delivery: Delivery, wire: _WireRow) -> None:
        nonlocal failures_in_a_row
        row, outcome = item.row, delivery.outcome
        attempts = None if guarded else delivery.attempts
        async with sessionmaker() as session:
            if outcome == Outcome.SENT:
                held = await deliveries.finish_row(
                    row.id,
                    token,
                    deliveries.SENT,
                    now=clock(),
                    message_id=delivery.message_id,
                    skus=item.skus,
                    attempts=attempts,
                    session=session,
                )
                if held:
                    await pick_history.record_picks(
                        row.telegram_id, item.skus, row.local_date, session=session
                    )
                failures_in_a_row = 0
                status = deliveries.SENT
            elif outcome in (Outcome.BLOCKED, Outcome.INVALID):
                status = deliveries.BLOCKED if outcome == Outcome.BLOCKED else deliveries.INVALID
                await deliveries.finish_row(
                    row.id,
                    token,
                    status,
                    now=clock(),
                    error=delivery.error,
                    attempts=attempts,
                    session=session,
                )
                await users.deactivate(row.telegram_id, session=session)
                failures_in_a_row = 0
            elif wire.flood or _looks_like_flood(delivery.error):
                # Telegram refused it (429): certainly not delivered, so the next pass may send it.
                await deliveries.requeue_row(
                    row.id, token, delivery.error or "flood control", now=clock(), session=session
                )
                report.requeued += 1
                status = "requeued"
                stop("flood control (429) persists")
            else:
                await deliveries.finish_row(
                    row.id,
                    token,
                    deliveries.FAILED,
                    now=clock(),
                    error=delivery.error,
                    attempts=attempts,
                    session=session,
                )
                failures_in_a_row += 1
                status = deliveries.FAILED
                if failures_in_a_row >= stop_after_failures:
                    stop(f"{failures_in_a_row} deliveries failed in a row: {delivery.error}")
            await session.commit()
        if status != "requeued":
            report.outcomes[status] += 1

    async def deliver(item: _Item) -> None:
        wire = _WireRow(item.row.id, item.row.telegram_id, token, sessionmaker, clock)
        reset = _WIRE.set(wire)
        try:
            if not guarded:
                async with sessionmaker() as session:
                    held = await deliveries.mark_on_wire(item.row.id, token, now=clock(), session=session)
                    await session.commit()
                if not held:
                    raise ClaimLost(item.row.id)
            delivery = await sender.send(item.out)
        except ClaimLost:
            report.lost += 1
            logger.info("digest row %s was taken over by another pass", item.row.id)
            return
        finally:
            _WIRE.reset(reset)
        if guarded and delivery.outcome == Outcome.SENT and wire.requests == 0:
            logger.error(
                "the wire guard saw no request for row %s: is the sender on another Bot?", item.row.id
            )
        await record(item, delivery, wire)

    async def work() -> None:
        while report.stopped is None:
            try:
                item = await next_item()
                if item is None:
                    return
                await deliver(item)
            except SQLAlchemyError:
                logger.exception("digest: database error")
                stop("database error")
            except Exception:  # noqa: BLE001 - a bug must stop the pass cleanly, not strand the other workers
                logger.exception("digest: unexpected error")
                stop("unexpected error (see the log)")

    try:
        await asyncio.gather(*(work() for _ in range(max(1, workers))))
    finally:
        # Rows claimed but never put on the wire go back at once (a crash leaves them to the lease).
        with contextlib.suppress(SQLAlchemyError, asyncio.CancelledError):
            async with sessionmaker() as session:
                await deliveries.release_claims(token, session=session)
                await session.commit()
        report.seconds = _time.monotonic() - started
    logger.info("%s", report.summary())
    return report


async def send_digest_now(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, on_date: date | None = None
) -> str:
    """`python -m bot digest send [--date D]`: a pass now, whatever the hour; idempotent."""
    from bot.services import build_bot, make_sender

    bot = build_bot(settings.require_token(), api_url=settings.telegram_api_url)
    try:
        sender = make_sender(bot, settings)
        report = await run_digest_pass(sessionmaker, settings, sender, bot=bot, on_date=on_date, force=True)
    finally:
        await bot.session.close()
    return report.summary()
