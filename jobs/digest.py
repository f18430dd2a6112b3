"""The daily digest pass (picks come from `bot.picks`, slots from `core.schedule`).

**The digest.** A pass (every minute from the scheduler; `python -m bot digest send` on demand):

1. marks rows left `sending` longer than `STALE_SENDING` `unknown` (the process died mid-request:
   the outcome is unknown, so they are *not* re-sent) and expires pending rows of days that are over;
2. makes one `pending` row per eligible streamer whose local digest time has come today (their
   `/tz` and `/digest HH:MM`, else DEFAULT_TIMEZONE and DIGEST_TIME): a slot missed while the bot
   was down is caught up the same local day, and the unique (telegram_id, local_date) constraint
   makes the day's digest exist once, daylight-saving days included;
3. claims rows in batches (a lease in `claimed_by`), renders their picks, and hands them to the
   shared `Sender`, with workers enough for DIGEST_RATE (8 at the free 25/s, 67 at a paid 1,000/s).

Right before each HTTP request a request middleware (`WireGuard`) moves the row to `sending` —
only if this pass still holds it — and a 429 or a failure before the request left (connection
refused, DNS) moves it back (certainly not delivered). So a
row is `sending` only while a request for it may be on the wire, and it is marked `sent` (with
its picks recorded) as soon as that request returns. A pass killed at any point therefore leaves:
sent rows (never re-sent), claimed-but-unsent rows (free again once the lease runs out), and at
most one `sending` row per worker, whose fate is unknown (`unknown` after `STALE_SENDING`).

**At most once.** A request that may have reached Telegram (a timeout, a reset, a 5xx) is never
made again: the sender answers `Outcome.UNKNOWN` and the row is closed `unknown`. The streamer may
miss that day's digest (if Telegram never got it) but never gets two. `python -m bot digest status
[--date D]` lists these rows. The digest goes out at `Priority.BROADCAST` on the bot's shared
outbound budget (bot/outbound.py), after people's replies and alerts.

No database transaction is open across a network call: every write is a short transaction. At a
paid 1,000 messages/s one transaction per row would be the bottleneck, so the rows' bookkeeping is
group-committed (`_GroupCommit`): the rows that ask to go on the wire while one transaction runs are
marked `sending` together in the next, and each request still leaves only after its row's commit;
outcomes are recorded the same way.

The code follows the steps: `DigestPass.housekeeping` and `create_rows` (1-2), then each worker
loops `next_item` (claim, `prepare`) → `deliver` → `record`. The pass needs only `send` from the
sender (`DigestSender`); a refusal under flood control comes back as `Delivery.retry_after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import os
import socket
import time as _time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.keyboards import picks_keyboard
from bot.outbound import Priority, never_left, priority
from bot.picks import PicksContext, batch_picks, picks_context
from bot.services import build_bot, make_sender, outbound_limiter
from bot.settings import Settings
from core.schedule import Schedule, local_today, zone_of
from jobs.sender import Delivery, Outcome, Outgoing
from storage import deliveries, pick_history, users
from storage.tables import utcnow
from storage.users import STREAMER

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)


CLAIM_LEASE = timedelta(minutes=2)
# Longer than any stretch a live pass keeps a row `sending` without touching it (one request is at
# most the sender's 30 s timeout, plus a backoff of at most 30 s before the next attempt).
STALE_SENDING = timedelta(minutes=10)
BATCH = 32
WORKERS = 8  # at least; more at higher DIGEST_RATE (`workers_for`)
# A worker's messages/s: one request and its two group commits at a time, ~0.2 s on a busy database.
REQUESTS_PER_WORKER = 5
STOP_AFTER_FAILURES = 3  # consecutive failed deliveries: Telegram is down, leave the rest for later


# --------------------------------------------------------------------------------------------
# The wire guard: a row is `sending` exactly while a request for it may be on the wire


class ClaimLost(Exception):  # noqa: N818 - a state, not a failure of ours
    """Our claim on a delivery row is gone (a lease ran out and another pass took it): do not send."""


def workers_for(rate: float) -> int:
    """Concurrent sends a pass needs to keep `rate` messages/s with requests in flight."""
    return max(WORKERS, math.ceil(rate / REQUESTS_PER_WORKER))


T = TypeVar("T")
R = TypeVar("R")


class _GroupCommit(Generic[T, R]):
    """Many callers' small writes in few transactions (a group commit).

    Each caller waits for the commit that holds its write; whatever is asked while `parallel`
    transactions run goes into the next. Nothing is acknowledged before it is committed, so a row
    marked `sending` this way is marked before its request leaves, as one transaction per row would.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        write: Callable[[AsyncSession, list[T]], Awaitable[list[R]]],
        *,
        parallel: int = 2,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._write = write
        self._parallel = parallel
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, entry: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        if len(self._tasks) < self._parallel:
            task = asyncio.create_task(self._drain(), name="digest-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._sessionmaker() as session:
                    results = await self._write(session, [entry for entry, _ in batch])
                    await session.commit()
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - each caller gets the failure of its own write
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


@dataclass
class _WireRow:
    row_id: int
    chat_id: int
    token: str
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    on_wire: Callable[[int], Awaitable[bool]]  # marks the row `sending`; False: our claim is gone
    kind: deliveries.Kind = deliveries.DIGEST
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
        if not await wire.on_wire(wire.row_id):
            raise ClaimLost(wire.row_id)
        wire.requests += 1
        try:
            response = await make_request(bot, method)
        except TelegramRetryAfter as exc:
            wire.flood = True
            await _off_wire(wire, f"429 retry after {exc.retry_after}s")
            raise
        except Exception as exc:
            if never_left(exc):  # certainly not delivered: pending again, may be retried
                await _off_wire(wire, f"never left: {exc}")
            raise
        wire.flood = False
        return response


async def _off_wire(wire: _WireRow, error: str) -> None:
    async with wire.sessionmaker() as session:
        await deliveries.mark_off_wire(
            wire.row_id, wire.token, error, now=wire.clock(), kind=wire.kind, session=session
        )
        await session.commit()


def install_wire_guard(bot: Bot) -> None:
    """Add the guard to the bot's session once (the digest's bot is the one the shared sender uses)."""
    if not any(isinstance(m, WireGuard) for m in bot.session.middleware):
        bot.session.middleware(WireGuard())


# --------------------------------------------------------------------------------------------
# The pass


class DigestSender(Protocol):
    """What the pass needs from `jobs.sender.Sender`: one message in, its final Delivery out."""

    async def send(self, out: Outgoing) -> Delivery: ...


@dataclass
class PassReport:
    dates: list[date] = field(default_factory=list)
    created: int = 0
    stale: int = 0  # `sending` rows of a dead pass, marked unknown (not re-sent)
    expired: int = 0
    # sent / blocked / invalid / failed / unknown / skipped
    outcomes: Counter[str] = field(default_factory=Counter)
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
        if o["unknown"]:
            text += f", unknown {o['unknown']} (may have arrived; not re-sent: `digest status` lists them)"
        extras = [
            f"{n} {what}"
            for n, what in (
                (self.requeued, "left for the next pass"),
                (self.stale, "interrupted earlier, marked unknown"),
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
class PassItem:
    """A claimed row ready to go: its message and the skus it carries (recorded as picks once sent).
    A pass's `prepare` (the digest's, or PushPass's) fills its queue with these."""

    row: deliveries.ClaimedRow
    out: Outgoing
    skus: list[str]


@dataclass(frozen=True)
class PassSkip:
    """A claimed row closed without a message, and why."""

    row: deliveries.ClaimedRow
    status: str  # SKIPPED (nothing to send) or FAILED (the local day is over)
    reason: str


def _new_token() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


_GONE = {Outcome.BLOCKED: deliveries.BLOCKED, Outcome.INVALID: deliveries.INVALID}
# Final outcomes that are not Telegram's refusal of the chat: recorded as they are.
_CLOSED = {Outcome.FAILED: deliveries.FAILED, Outcome.UNKNOWN: deliveries.UNKNOWN}


class DigestPass:
    """One digest pass: housekeeping, preparation, then workers that take the next item, deliver it
    and record the outcome, until no row is left or the pass has to stop."""

    kind: deliveries.Kind = deliveries.DIGEST  # whose rows it moves (jobs.push subclasses it)

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        sender: DigestSender,
        *,
        bot: Bot | None = None,
        now: datetime | None = None,
        on_date: date | None = None,
        force: bool = False,
        workers: int | None = None,
        batch: int | None = None,
        lease: timedelta = CLAIM_LEASE,
        stale_after: timedelta = STALE_SENDING,
        stop_after_failures: int = STOP_AFTER_FAILURES,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.sender = sender
        self.bot = bot
        self.on_date = on_date
        self.force = force
        self.workers = max(1, workers) if workers is not None else workers_for(settings.digest_rate)
        # A claim feeds every worker a few messages, so claims stay a few per second at any rate.
        self.batch = batch if batch is not None else max(BATCH, 2 * self.workers)
        self.lease = lease
        self.stale_after = stale_after
        self.stop_after_failures = stop_after_failures
        self.report = PassReport()
        self.token = _new_token()
        self._started = _time.monotonic()
        self._base = now or utcnow()
        self._dates: set[date] = set()
        self._queue: deque[PassItem] = deque()
        self._refill = asyncio.Lock()
        self._exhausted = False
        self._failures_in_a_row = 0
        self._context: PicksContext | None = None
        self._ahead: asyncio.Task[None] | None = None  # the next batch, prepared while this one is sent
        self._on_wire = _GroupCommit(sessionmaker, self._mark_on_wire)
        self._record = _GroupCommit(sessionmaker, self._record_many)

    @property
    def guarded(self) -> bool:
        """The wire guard on the sender's bot marks rows `sending` (else the pass does, before sending)."""
        return self.bot is not None

    def clock(self) -> datetime:
        """The pass's UTC clock: `now` (or the real time) at the start, moving with the monotonic clock."""
        return self._base + timedelta(seconds=_time.monotonic() - self._started)

    def stop(self, reason: str) -> None:
        if self.report.stopped is None:
            self.report.stopped = reason
            logger.warning("digest pass stops: %s", reason)

    async def run(self) -> PassReport:
        if self.bot is not None:
            install_wire_guard(self.bot)
        async with self.sessionmaker() as session:  # steps 1-2 in one short transaction
            await self.housekeeping(session)
            await self.create_rows(session)
            await session.commit()
        try:
            await asyncio.gather(*(self._work() for _ in range(self.workers)))
        finally:
            if self._ahead is not None:
                self._ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ahead
            await self._release_claims()
            self.report.seconds = _time.monotonic() - self._started
        logger.info("%s", self.report.summary())
        return self.report

    # ---------------------------------------------------------------- 1. housekeeping

    async def housekeeping(self, session: AsyncSession) -> None:
        """Fail rows a dead pass left `sending`; expire pending rows whose local day is over."""
        base = self._base
        stale = await deliveries.fail_stale_sending(base - self.stale_after, now=base, session=session)
        self.report.stale = len(stale)
        if stale:
            logger.warning(
                "digest: %s rows were left sending by a dead pass; marked unknown, not re-sent", len(stale)
            )
        candidates = await deliveries.pending_past_candidates(
            not_after=base.date(), keep=self.on_date, now=base, lease=self.lease, session=session
        )
        default_zone = self.settings.default_timezone
        over = [
            row_id for row_id, day, zone in candidates if day < local_today(base, zone_of(zone, default_zone))
        ]
        self.report.expired = await deliveries.expire_rows(over, now=base, lease=self.lease, session=session)

    # ---------------------------------------------------------------- 2. preparation

    async def create_rows(self, session: AsyncSession) -> None:
        """Today's pending rows: for `on_date`, or for each schedule group whose slot has come."""
        if self.on_date is not None:
            self._dates.add(self.on_date)
            self.report.created = await deliveries.create_rows(self.on_date, now=self._base, session=session)
        else:
            for group in await deliveries.digest_groups(session=session):
                schedule = Schedule.of(*group, self.settings)
                today = schedule.today(self._base)
                self._dates.add(today)
                if self.force or schedule.due(self._base):
                    self.report.created += await deliveries.create_rows(
                        today, group=group, now=self._base, session=session
                    )
        self.report.dates = sorted(self._dates)

    def _triage(
        self, rows: list[deliveries.ClaimedRow]
    ) -> tuple[list[deliveries.ClaimedRow], list[PassSkip]]:
        """Rows worth rendering, and rows to close at once (digests off, or their day is over)."""
        wanted: list[deliveries.ClaimedRow] = []
        skipped: list[PassSkip] = []
        for row in rows:
            p = row.profile
            if row.role != STREAMER or not p.digest_enabled or not p.active:
                skipped.append(PassSkip(row, deliveries.SKIPPED, "digests off or chat unreachable"))
            elif self.on_date is None and row.local_date < Schedule.of(
                p.timezone, p.digest_time, self.settings
            ).today(self.clock()):
                skipped.append(PassSkip(row, deliveries.FAILED, "expired: the local day is over"))
            else:
                wanted.append(row)
        return wanted, skipped

    async def prepare(self, rows: list[deliveries.ClaimedRow]) -> None:
        """Render the claimed rows' picks into the queue; close the rows with nothing to send."""
        wanted, skipped = self._triage(rows)
        if wanted and self._context is None:
            self._context = await picks_context(self.sessionmaker)
        async with self.sessionmaker() as session:
            if wanted and self._context is not None:
                results = await batch_picks(
                    session, self._context, [(r.profile, r.local_date) for r in wanted]
                )
                for row, result in zip(wanted, results, strict=True):
                    if not result.picks:
                        skipped.append(PassSkip(row, deliveries.SKIPPED, "no picks"))
                        continue
                    lang = row.profile.language
                    text = result.as_text(lang, digest=True)
                    out = Outgoing(row.telegram_id, text, picks_keyboard(result, lang), key=row.id)
                    self._queue.append(PassItem(row, out, result.skus))
            for skip in skipped:
                await self._close_skipped(skip, session)
            await session.commit()

    async def _close_skipped(self, skip: PassSkip, session: AsyncSession) -> None:
        await deliveries.finish_row(
            skip.row.id,
            self.token,
            skip.status,
            now=self.clock(),
            error=skip.reason,
            kind=self.kind,
            session=session,
        )
        if skip.status == deliveries.SKIPPED:
            self.report.outcomes[deliveries.SKIPPED] += 1
        else:
            self.report.expired += 1

    # ---------------------------------------------------------------- 3. next item

    async def next_item(self) -> PassItem | None:
        """The next message to send, claiming and preparing another batch when the queue is empty.

        When the queue runs low the next batch is claimed and prepared in the background, so the
        workers do not all stand idle while the database answers."""
        while self.report.stopped is None:
            if self._queue:
                item = self._queue.popleft()
                if len(self._queue) <= self.batch // 2 and not self._exhausted:
                    self._prefetch()
                return item
            if self._exhausted and not self._refill.locked():
                return None
            await self._fill(ahead=False)
        return None

    async def _fill(self, *, ahead: bool) -> None:
        async with self._refill:
            if (self._queue and not ahead) or self._exhausted or self.report.stopped is not None:
                return
            rows = await self._claim()
            if rows:
                await self.prepare(rows)

    def _prefetch(self) -> None:
        if self._refill.locked() or (self._ahead is not None and not self._ahead.done()):
            return
        self._ahead = asyncio.create_task(self._fill_ahead(), name="digest-prefetch")

    async def _fill_ahead(self) -> None:
        try:
            await self._fill(ahead=True)
        except SQLAlchemyError:
            logger.exception("digest: database error")
            self.stop("database error")
        except Exception:  # noqa: BLE001 - as in _work: stop the pass cleanly
            logger.exception("digest: unexpected error")
            self.stop("unexpected error (see the log)")

    async def _claim(self) -> list[deliveries.ClaimedRow]:
        async with self.sessionmaker() as session:
            rows = await deliveries.claim_rows(
                self.token, self._dates, now=self.clock(), lease=self.lease, limit=self.batch, session=session
            )
            await session.commit()
            # Nothing won: done, unless another pass merely took the rows we aimed at.
            if not rows and not await deliveries.has_free_rows(
                self._dates, now=self.clock(), lease=self.lease, session=session
            ):
                self._exhausted = True
        return rows

    # ---------------------------------------------------------------- 4. delivery

    async def deliver(self, item: PassItem) -> tuple[Delivery, _WireRow] | None:
        """Send one item through the sender; None when our claim on its row was lost."""
        wire = _WireRow(
            item.row.id,
            item.row.telegram_id,
            self.token,
            self.sessionmaker,
            self.clock,
            self._on_wire,
            self.kind,
        )
        reset = _WIRE.set(wire)
        try:
            if not self.guarded:
                await self._put_on_wire(item.row.id)
            with priority(Priority.BROADCAST):
                delivery = await self.sender.send(item.out)
        except ClaimLost:
            self.report.lost += 1
            logger.info("digest row %s was taken over by another pass", item.row.id)
            return None
        finally:
            _WIRE.reset(reset)
        if self.guarded and delivery.outcome == Outcome.SENT and wire.requests == 0:
            logger.error(
                "the wire guard saw no request for row %s: is the sender on another Bot?", item.row.id
            )
        return delivery, wire

    async def _put_on_wire(self, row_id: int) -> None:
        if not await self._on_wire(row_id):
            raise ClaimLost(row_id)

    async def _mark_on_wire(self, session: AsyncSession, row_ids: list[int]) -> list[bool]:
        held = await deliveries.mark_many_on_wire(
            row_ids, self.token, now=self.clock(), kind=self.kind, session=session
        )
        return [row_id in held for row_id in row_ids]

    # ---------------------------------------------------------------- 5. record

    async def record(self, item: PassItem, delivery: Delivery, *, refused: bool) -> None:
        """Store the outcome of one delivery (group-committed with the other workers' outcomes);
        `refused`: Telegram answered 429, so it was not delivered."""
        await self._record((item, delivery, refused))

    def _attempts(self, delivery: Delivery) -> int | None:
        # Guarded, the wire guard counted every request in the row itself.
        return None if self.guarded else delivery.attempts

    async def _record_many(
        self, session: AsyncSession, outcomes: list[tuple[PassItem, Delivery, bool]]
    ) -> list[None]:
        """One transaction for many outcomes: closed rows in one statement, their picks in another."""
        # Waiting for the disk would double the time a worker waits; losing this commit is safe.
        await deliveries.commit_without_waiting_for_disk(session=session)
        finishes: list[deliveries.Finish] = []
        for item, delivery, refused in outcomes:
            if delivery.outcome == Outcome.SENT:
                finishes.append(
                    deliveries.Finish(
                        item.row.id,
                        deliveries.SENT,
                        message_id=delivery.message_id,
                        skus=item.skus,
                        attempts=self._attempts(delivery),
                    )
                )
            elif delivery.outcome in _GONE or not refused:
                status = _GONE.get(delivery.outcome) or _CLOSED.get(delivery.outcome, deliveries.FAILED)
                finishes.append(
                    deliveries.Finish(
                        item.row.id, status, error=delivery.error, attempts=self._attempts(delivery)
                    )
                )
        held = await deliveries.finish_rows(
            finishes, self.token, now=self.clock(), kind=self.kind, session=session
        )
        picks = []
        for item, delivery, refused in outcomes:
            if delivery.outcome == Outcome.SENT:
                if item.row.id in held:
                    picks.append((item.row.telegram_id, item.skus, item.row.local_date))
                self._failures_in_a_row = 0
                self.report.outcomes[deliveries.SENT] += 1
            elif delivery.outcome in _GONE:  # stop writing to the streamer until /start
                await users.deactivate(item.row.telegram_id, session=session)
                self._failures_in_a_row = 0
                self.report.outcomes[_GONE[delivery.outcome]] += 1
            elif refused:
                await self._requeue(item, delivery, session)
            else:
                self._failed(delivery)
        await pick_history.record_many_picks(picks, session=session)
        return [None] * len(outcomes)

    async def _requeue(self, item: PassItem, delivery: Delivery, session: AsyncSession) -> None:
        """Telegram refused it (429): certainly not delivered, so the next pass may send it."""
        error = delivery.error or f"429 retry after {delivery.retry_after}s"
        await deliveries.requeue_row(
            item.row.id, self.token, error, now=self.clock(), kind=self.kind, session=session
        )
        self.report.requeued += 1
        self.stop("flood control (429) persists")

    def _failed(self, delivery: Delivery) -> None:
        status = _CLOSED.get(delivery.outcome, deliveries.FAILED)
        self._failures_in_a_row += 1
        self.report.outcomes[status] += 1
        if self._failures_in_a_row >= self.stop_after_failures:
            self.stop(f"{self._failures_in_a_row} deliveries failed in a row: {delivery.error}")

    # ---------------------------------------------------------------- the workers

    async def _work(self) -> None:
        while self.report.stopped is None:
            try:
                if not await self._one():
                    return
            except SQLAlchemyError:
                logger.exception("digest: database error")
                self.stop("database error")
            except Exception:  # noqa: BLE001 - a bug must stop the pass cleanly, not strand the other workers
                logger.exception("digest: unexpected error")
                self.stop("unexpected error (see the log)")

    async def _one(self) -> bool:
        """Next item, delivery, record; False when nothing is left."""
        item = await self.next_item()
        if item is None:
            return False
        sent = await self.deliver(item)
        if sent is not None:
            delivery, wire = sent
            await self.record(item, delivery, refused=wire.flood or delivery.retry_after is not None)
        return True

    async def _release_claims(self) -> None:
        # Rows claimed but never put on the wire go back at once (a crash leaves them to the lease).
        with contextlib.suppress(SQLAlchemyError, asyncio.CancelledError):
            async with self.sessionmaker() as session:
                await deliveries.release_claims(self.token, kind=self.kind, session=session)
                await session.commit()


async def run_digest_pass(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, sender: DigestSender, **options: Any
) -> PassReport:
    """One digest pass; safe to run concurrently with others (in this process or another replica).

    The options are `DigestPass`'s. `bot` is the Bot under `sender`: given, the wire guard marks rows
    `sending` only while their request may be on the wire; without it a row is marked just before it
    is handed to the sender.
    `now` (UTC) shifts the pass's clock (tests). `on_date` sends that local date to every eligible
    streamer; `force` sends each streamer's today whatever the hour (`digest send`); neither: the
    scheduled pass, for those whose slot has come.
    """
    return await DigestPass(sessionmaker, settings, sender, **options).run()


async def send_digest_now(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, on_date: date | None = None
) -> str:
    """`python -m bot digest send [--date D]`: a pass now, whatever the hour; idempotent."""
    limiter = outbound_limiter(settings)
    bot = build_bot(settings.require_token(), api_url=settings.telegram_api_url, limiter=limiter)
    try:
        sender = make_sender(bot, settings)
        report = await run_digest_pass(sessionmaker, settings, sender, bot=bot, on_date=on_date, force=True)
    finally:
        await bot.session.close()
        await limiter.close()
    return report.summary()
