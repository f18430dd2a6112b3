"""Digest delivery rows, the source of truth for "sent at most once per streamer and local day".

Every function takes the caller's session (keyword-only) and never commits: the job that opened the
session does. Values come out as plain dataclasses.

The rows are the source of truth for "sent at most once per streamer and local day":

    pending ──claim──▶ pending + claimed_by ──on wire──▶ sending ──▶ sent | blocked | invalid | failed
                                 ▲                          │ 429 (a definite "not delivered")
                                 └──────────────────────────┘

A claim (`claimed_by`, stamped with `updated_at`) is a lease: it only keeps two passes from queueing
the same row. The real guard is `mark_on_wire`, which moves the row to `sending` only for the claim
that still holds it, right before the HTTP request; so a row is on the wire for at most one pass.

The same states serve two kinds of delivery: the daily digest (`DigestDelivery`, one row per
streamer and local date) and an admin's push (`PushDelivery`, one row per streamer and push). The
transitions take the kind's table (`kind=`, the digest by default); only making and claiming rows
differ, by what scopes them (the dates, or the push).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, bindparam, func, insert, literal, or_, text, update
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.profiles import StreamerProfile, profile_of
from storage.sql import chunks, dialect_insert, on_postgresql, unnest_rows
from storage.tables import (
    DigestDelivery,
    PushDelivery,
    User,
    utcnow,
)
from storage.users import STREAMER

# Delivery statuses. `skipped` (nothing to send: no picks, or digests turned off after the row was
# made) joins the lifecycle pending → sending → sent | blocked | invalid | failed | unknown.
# `failed`: certainly not delivered; `unknown`: the request may have reached Telegram (a timeout, a
# reset, a 5xx, or a pass that died mid-request), so it is never re-sent; the operator lists these.
PENDING, SENDING, SENT, BLOCKED, INVALID, FAILED, SKIPPED, UNKNOWN = (
    "pending",
    "sending",
    "sent",
    "blocked",
    "invalid",
    "failed",
    "skipped",
    "unknown",
)
FINAL_STATUSES = frozenset({SENT, BLOCKED, INVALID, FAILED, SKIPPED, UNKNOWN})
_LIVE = (PENDING, SENDING)

# The kinds of delivery, by their table: both carry the columns the transitions below touch.
Kind = type[DigestDelivery] | type[PushDelivery]
DIGEST: Kind = DigestDelivery
PUSH: Kind = PushDelivery


def _eligible():
    """Who gets digests: streamers who started the bot, still reachable, with digests on."""
    return and_(col(User.digest_enabled).is_(True), col(User.active).is_(True))  # every user streams


async def digest_groups(*, session: AsyncSession) -> list[tuple[str | None, str | None]]:
    """The distinct (time zone, digest time) settings of eligible streamers (None: the default)."""
    rows = await session.exec(select(User.timezone, User.digest_time).where(_eligible()).distinct())
    return [(tz, at) for tz, at in rows.all()]


async def create_rows(
    local_date: date,
    *,
    session: AsyncSession,
    group: tuple[str | None, str | None] | None = None,
    now: datetime | None = None,
) -> int:
    """Pending rows for `local_date` for every eligible streamer (of one settings group) without one.

    One INSERT … SELECT … ON CONFLICT DO NOTHING: the unique (telegram_id, local_date) constraint
    makes concurrent passes and replicas harmless.
    """
    now = now or utcnow()
    where = [_eligible()]
    if group is not None:
        zone, at = group
        where.append(col(User.timezone).is_(None) if zone is None else col(User.timezone) == zone)
        where.append(col(User.digest_time).is_(None) if at is None else col(User.digest_time) == at)
    table = DigestDelivery.__table__  # type: ignore[attr-defined]
    stamp = table.c.created_at.type
    source = sa_select(
        col(User.telegram_id),
        literal(local_date, table.c.local_date.type),
        literal(PENDING),
        literal(""),
        literal(0),
        literal(now, stamp),
        literal(now, stamp),
    ).where(*where)
    statement = (
        dialect_insert(session, table)
        .from_select(
            ["telegram_id", "local_date", "status", "skus", "attempts", "created_at", "updated_at"], source
        )
        .on_conflict_do_nothing(index_elements=["telegram_id", "local_date"])
    )
    result = await session.exec(statement)
    return max(result.rowcount or 0, 0)


async def fail_stale_sending(
    older_than: datetime, *, now: datetime | None = None, kind: Kind = DIGEST, session: AsyncSession
) -> list[int]:
    """Rows left `sending` by a pass that died mid-request: their outcome is unknown, so they are
    marked `unknown` and never re-sent (a missed digest is better than a duplicate). Returns their ids."""
    now = now or utcnow()
    ids = list(
        (
            await session.exec(
                select(col(kind.id)).where(col(kind.status) == SENDING, col(kind.updated_at) < older_than)
            )
        ).all()
    )
    for chunk in chunks(ids):
        await session.exec(
            update(kind)
            .where(
                col(kind.id).in_(chunk),
                col(kind.status) == SENDING,
                col(kind.updated_at) < older_than,
            )
            .values(
                status=UNKNOWN,
                error="interrupted while sending: outcome unknown, not re-sent",
                claimed_by=None,
                updated_at=now,
            )
        )
    return [int(i) for i in ids]  # type: ignore[call-overload, arg-type]


async def pending_past_candidates(
    *, not_after: date, keep: date | None, now: datetime, lease: timedelta, session: AsyncSession
) -> list[tuple[int, date, str | None]]:
    """(row id, local date, the streamer's zone) of pending rows nobody holds, dated `not_after` or
    earlier: the candidates for expiry (whether their day is over depends on the streamer's zone)."""
    where = [
        col(DigestDelivery.status) == PENDING,
        col(DigestDelivery.local_date) <= not_after,
        or_(col(DigestDelivery.claimed_by).is_(None), col(DigestDelivery.updated_at) < now - lease),
    ]
    if keep is not None:
        where.append(col(DigestDelivery.local_date) != keep)
    rows = await session.exec(
        select(col(DigestDelivery.id), DigestDelivery.local_date, User.timezone)  # type: ignore[call-overload, arg-type]
        .join(User, col(User.telegram_id) == col(DigestDelivery.telegram_id), isouter=True)
        .where(*where)
    )
    return [(int(i), d, tz) for i, d, tz in rows.all()]


async def expire_rows(ids: Sequence[int], *, now: datetime, lease: timedelta, session: AsyncSession) -> int:
    """Pending rows for a local day that is over: they will never go out (still nobody's, re-checked)."""
    expired = 0
    for chunk in chunks(list(ids)):
        result = await session.exec(
            update(DigestDelivery)
            .where(
                col(DigestDelivery.id).in_(chunk),
                col(DigestDelivery.status) == PENDING,
                or_(col(DigestDelivery.claimed_by).is_(None), col(DigestDelivery.updated_at) < now - lease),
            )
            .values(status=FAILED, error="expired: the local day is over", claimed_by=None, updated_at=now)
        )
        expired += max(result.rowcount or 0, 0)
    return expired


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A delivery row this pass holds, with its streamer's settings as of the claim."""

    id: int
    telegram_id: int
    local_date: date
    profile: StreamerProfile
    role: str


def _free(kind: Kind, scope: Any, *, now: datetime, lease: timedelta):  # type: ignore[no-untyped-def]
    """Pending rows of `kind` within `scope` that nobody holds (or whose holder's lease ran out)."""
    return and_(
        col(kind.status) == PENDING,
        scope,
        or_(col(kind.claimed_by).is_(None), col(kind.updated_at) < now - lease),
    )


def _of_dates(dates: Collection[date]) -> Any:
    return col(DigestDelivery.local_date).in_(sorted(dates))


def _of_push(push_id: int) -> Any:
    return col(PushDelivery.push_id) == push_id


async def claim_rows(
    token: str,
    dates: Collection[date],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    session: AsyncSession,
) -> list[ClaimedRow]:
    """Atomically take up to `limit` free pending digest rows for `dates`, oldest first (see `_claim`)."""
    if not dates:
        return []
    return await _claim(DIGEST, _of_dates(dates), token, now=now, lease=lease, limit=limit, session=session)


async def claim_push_rows(
    token: str, push_id: int, *, now: datetime, lease: timedelta, limit: int, session: AsyncSession
) -> list[ClaimedRow]:
    """Atomically take up to `limit` free pending rows of one push, oldest first (see `_claim`)."""
    return await _claim(PUSH, _of_push(push_id), token, now=now, lease=lease, limit=limit, session=session)


async def _claim(
    kind: Kind,
    scope: Any,
    token: str,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    session: AsyncSession,
) -> list[ClaimedRow]:
    """Atomically take up to `limit` free pending rows of `kind` within `scope`, oldest first.

    One `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) AND <still free> RETURNING id`: on
    PostgreSQL concurrent claimers skip each other's locked rows and the outer WHERE is re-checked
    on the row version they lock; SQLite runs one writer at a time. Either way a row is won by one
    claimer only. May return fewer rows than are free (a race lost); see `has_free_rows`.
    """
    free = _free(kind, scope, now=now, lease=lease)
    # A materialised CTE: PostgreSQL could otherwise run a LIMIT … FOR UPDATE subquery more than once
    # and lock more than `limit` rows.
    pick = (
        sa_select(col(kind.id))
        .where(free)
        .order_by(col(kind.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    won = (
        await session.exec(
            update(kind)
            .where(col(kind.id).in_(sa_select(pick.c.id)), free)
            .values(claimed_by=token, updated_at=now)
            .returning(col(kind.id))
        )
    ).all()
    ids = sorted(int(row[0]) for row in won)
    if not ids:
        return []
    rows = await session.exec(
        select(col(kind.id), kind.telegram_id, kind.local_date, User)  # type: ignore[call-overload, arg-type]
        .join(User, col(User.telegram_id) == col(kind.telegram_id), isouter=True)
        .where(col(kind.id).in_(ids))
        .order_by(col(kind.id))
    )
    claimed = []
    for row_id, telegram_id, local_date, user in rows.all():
        profile = profile_of(user) if user is not None else StreamerProfile(int(telegram_id), active=False)
        claimed.append(
            ClaimedRow(
                int(row_id), int(telegram_id), local_date, profile, STREAMER if user is not None else ""
            )
        )
    return claimed


async def has_free_rows(
    dates: Collection[date], *, now: datetime, lease: timedelta, session: AsyncSession
) -> bool:
    if not dates:
        return False
    return await _any_free(DIGEST, _of_dates(dates), now=now, lease=lease, session=session)


async def has_free_push_rows(push_id: int, *, now: datetime, lease: timedelta, session: AsyncSession) -> bool:
    return await _any_free(PUSH, _of_push(push_id), now=now, lease=lease, session=session)


async def _any_free(
    kind: Kind, scope: Any, *, now: datetime, lease: timedelta, session: AsyncSession
) -> bool:
    found = (
        await session.exec(select(col(kind.id)).where(_free(kind, scope, now=now, lease=lease)).limit(1))
    ).first()
    return found is not None


def _live(kind: Kind):
    """Still pending or sending: spelled out rather than `IN (…)`, which is re-rendered on every run.
    On the table's column, so that a Core statement stays a Core statement (no ORM bulk update)."""
    status = kind.__table__.c.status  # type: ignore[union-attr]
    return or_(*(status == value for value in _LIVE))


def _held(row_id: int, token: str, kind: Kind):
    return and_(
        col(kind.id) == row_id,
        col(kind.claimed_by) == token,
        _live(kind),
    )


async def mark_on_wire(
    row_id: int, token: str, *, now: datetime, kind: Kind = DIGEST, session: AsyncSession
) -> bool:
    """Right before an HTTP request: `sending`, one more attempt. False: our claim is gone (do not send)."""
    result = await session.exec(
        update(kind)
        .where(_held(row_id, token, kind))
        .values(status=SENDING, attempts=kind.attempts + 1, updated_at=now)
    )
    return (result.rowcount or 0) == 1


async def mark_many_on_wire(
    row_ids: Collection[int], token: str, *, now: datetime, kind: Kind = DIGEST, session: AsyncSession
) -> set[int]:
    """`mark_on_wire` for many rows in one statement; returns the rows still ours (send only those)."""
    if not row_ids:
        return set()
    ids = sorted(row_ids)
    table = kind.__table__  # type: ignore[union-attr]
    if on_postgresql(session):  # the same statement for any number of rows (storage.sql.unnest_rows)
        wanted = unnest_rows("w", id=(BigInteger, ids))
        matches = table.c.id == wanted.c.id
    else:
        matches = table.c.id.in_(ids)
    # On the table, not the ORM class: an ORM UPDATE first works out which loaded objects it changes
    # (synchronize_session), and that was a third of this hot statement's cost.
    won = await session.exec(
        update(table)
        .where(matches, table.c.claimed_by == token, _live(kind))
        .values(status=SENDING, attempts=table.c.attempts + 1, updated_at=now)
        .returning(table.c.id)
    )
    return {int(row[0]) for row in won.all()}


async def mark_off_wire(
    row_id: int, token: str, error: str, *, now: datetime, kind: Kind = DIGEST, session: AsyncSession
) -> None:
    """Telegram answered "not delivered" (a 429): the row is ours and pending again, safe to retry."""
    await session.exec(
        update(kind)
        .where(_held(row_id, token, kind))
        .values(status=PENDING, error=error[:300], updated_at=now)
    )


async def finish_row(
    row_id: int,
    token: str,
    status: str,
    *,
    now: datetime,
    message_id: int | None = None,
    error: str | None = None,
    skus: Sequence[str] = (),
    attempts: int | None = None,
    kind: Kind = DIGEST,
    session: AsyncSession,
) -> bool:
    """Record a final outcome for a row we hold; False when the claim was lost meanwhile."""
    assert status in FINAL_STATUSES
    values: dict[str, Any] = dict(
        status=status,
        message_id=message_id,
        error=(error or None) and error[:300],
        skus=";".join(skus)[:500],
        updated_at=now,
    )
    if attempts is not None:
        values["attempts"] = attempts
    result = await session.exec(update(kind).where(_held(row_id, token, kind)).values(**values))
    return (result.rowcount or 0) == 1


@dataclass(frozen=True)
class Finish:
    """A final outcome for one row (see `finish_row`)."""

    row_id: int
    status: str
    message_id: int | None = None
    error: str | None = None
    skus: Sequence[str] = ()
    attempts: int | None = None  # None: keep the count the wire guard kept


async def finish_rows(
    finishes: Sequence[Finish], token: str, *, now: datetime, kind: Kind = DIGEST, session: AsyncSession
) -> set[int]:
    """`finish_row` for many rows; returns the rows we held and closed.

    On PostgreSQL one `UPDATE … FROM unnest(…) RETURNING`; elsewhere one select and one executemany.
    """
    if not finishes:
        return set()
    assert all(f.status in FINAL_STATUSES for f in finishes)
    if on_postgresql(session):
        return await _finish_rows_at_once(finishes, token, now=now, kind=kind, session=session)
    ids = sorted(f.row_id for f in finishes)
    held = {
        int(row_id)
        for row_id in (
            await session.exec(
                select(col(kind.id))
                .where(
                    col(kind.id).in_(ids),
                    col(kind.claimed_by) == token,
                    col(kind.status).in_(_LIVE),
                )
                .with_for_update()
            )
        ).all()
        if row_id is not None
    }
    if not held:
        return held
    table = kind.__table__  # type: ignore[union-attr]
    statement = (
        update(table)
        # No IN (...) here: an expanding parameter cannot be used with executemany.
        .where(
            table.c.id == bindparam("b_id"),
            table.c.claimed_by == token,
            _live(kind),
        )
        .values(
            status=bindparam("b_status", type_=String),
            message_id=bindparam("b_message_id", type_=BigInteger),
            error=bindparam("b_error", type_=String),
            skus=bindparam("b_skus", type_=String),
            attempts=func.coalesce(bindparam("b_attempts", type_=Integer), table.c.attempts),
            updated_at=now,
        )
    )
    params = [
        dict(
            b_id=f.row_id,
            b_status=f.status,
            b_message_id=f.message_id,
            b_error=(f.error or None) and f.error[:300],
            b_skus=";".join(f.skus)[:500],
            b_attempts=f.attempts,
        )
        for f in finishes
        if f.row_id in held
    ]
    connection = await session.connection()
    await connection.execute(statement, params)
    return held


async def _finish_rows_at_once(
    finishes: Sequence[Finish], token: str, *, now: datetime, kind: Kind, session: AsyncSession
) -> set[int]:
    table = kind.__table__  # type: ignore[union-attr]
    done = unnest_rows(
        "done",
        id=(BigInteger, [f.row_id for f in finishes]),
        status=(String, [f.status for f in finishes]),
        message_id=(BigInteger, [f.message_id for f in finishes]),
        error=(String, [(f.error or None) and f.error[:300] for f in finishes]),
        skus=(String, [";".join(f.skus)[:500] for f in finishes]),
        attempts=(Integer, [f.attempts for f in finishes]),
    )
    closed = await session.exec(
        update(table)
        .where(table.c.id == done.c.id, table.c.claimed_by == token, _live(kind))
        .values(
            status=done.c.status,
            message_id=done.c.message_id,
            error=done.c.error,
            skus=done.c.skus,
            attempts=func.coalesce(done.c.attempts, table.c.attempts),
            updated_at=now,
        )
        .returning(table.c.id)
    )
    return {int(row[0]) for row in closed.all()}


async def commit_without_waiting_for_disk(*, session: AsyncSession) -> None:
    """Let this transaction's commit return before it reaches the disk (PostgreSQL; elsewhere a no-op).

    Only for outcomes whose loss in a database crash is safe: a lost `sent` leaves the row
    `sending`, which ends `unknown` and is never re-sent. Never for `mark_many_on_wire`.
    """
    if on_postgresql(session):
        connection = await session.connection()
        await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))


async def requeue_row(
    row_id: int, token: str, error: str, *, now: datetime, kind: Kind = DIGEST, session: AsyncSession
) -> bool:
    """Give a row back, unsent and unclaimed (a flood-limited pass stops; the next pass retries it)."""
    result = await session.exec(
        update(kind)
        .where(_held(row_id, token, kind))
        .values(status=PENDING, claimed_by=None, error=error[:300], updated_at=now)
    )
    return (result.rowcount or 0) == 1


async def release_claims(token: str, *, kind: Kind = DIGEST, session: AsyncSession) -> int:
    """Give back every row this pass claimed but never put on the wire."""
    result = await session.exec(
        update(kind).where(col(kind.claimed_by) == token, col(kind.status) == PENDING).values(claimed_by=None)
    )
    return max(result.rowcount or 0, 0)


async def delivery_counts(local_date: date | None = None, *, session: AsyncSession) -> dict[str, int]:
    """Rows by status (for one local date, or all)."""
    query = select(DigestDelivery.status, func.count()).group_by(DigestDelivery.status)
    if local_date is not None:
        query = query.where(col(DigestDelivery.local_date) == local_date)
    return {status: int(n) for status, n in (await session.exec(query)).all()}


async def rows_with_status(
    status: str, local_date: date | None = None, *, limit: int = 1000, session: AsyncSession
) -> list[DigestDelivery]:
    """Rows in one status (e.g. `unknown`), for one local date or all, oldest first."""
    query = select(DigestDelivery).where(col(DigestDelivery.status) == status)
    if local_date is not None:
        query = query.where(col(DigestDelivery.local_date) == local_date)
    query = query.order_by(col(DigestDelivery.local_date), col(DigestDelivery.id)).limit(limit)
    return list((await session.exec(query)).all())


async def add_delivery_row(telegram_id: int, local_date: date, *, session: AsyncSession) -> None:
    """One pending row (tests and tools); the unique constraint still applies."""
    await session.exec(
        insert(DigestDelivery).values(
            telegram_id=telegram_id,
            local_date=local_date,
            status=PENDING,
            skus="",
            attempts=0,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
    )
