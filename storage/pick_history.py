"""What each streamer was picked (so nothing repeats within 14 days) and what they marked 不感兴趣.

Every function takes the caller's session (keyword-only) and never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date

from sqlalchemy import BigInteger, Date, String, insert
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sql import chunks, dialect_insert, on_postgresql, rows_written, table_of, unnest_rows
from storage.tables import (
    NotInterested,
    PickSent,
)


async def recent_pick_skus(
    telegram_ids: Collection[int], *, since: date, until: date, session: AsyncSession
) -> dict[int, dict[str, date]]:
    """sku -> last day shown, per streamer, for picks shown on `since` <= day < `until`."""
    found: dict[int, dict[str, date]] = defaultdict(dict)
    for chunk in chunks(sorted(set(telegram_ids))):
        rows = await session.exec(
            select(col(PickSent.telegram_id), col(PickSent.sku), col(PickSent.sent_on)).where(  # type: ignore[call-overload, arg-type]
                col(PickSent.telegram_id).in_(chunk),
                col(PickSent.sent_on) >= since,
                col(PickSent.sent_on) < until,
            )
        )
        for telegram_id, sku, sent_on in rows.all():
            seen = found[int(telegram_id)]
            if sku not in seen or seen[sku] < sent_on:
                seen[sku] = sent_on
    return dict(found)


async def record_picks(telegram_id: int, skus: Sequence[str], on: date, *, session: AsyncSession) -> int:
    """Remember that these picks were shown on `on` (once per sku and day); returns rows added."""
    wanted = list(dict.fromkeys(skus))
    if not wanted:
        return 0
    # One upsert: a digest and a /picks of the same streamer (maybe in two processes) may race.
    statement = (
        dialect_insert(session, table_of(PickSent))
        .values([{"telegram_id": telegram_id, "sku": sku, "sent_on": on} for sku in wanted])
        .on_conflict_do_nothing(index_elements=["telegram_id", "sku", "sent_on"])
    )
    return await rows_written(statement, session=session)


async def record_many_picks(
    entries: Sequence[tuple[int, Sequence[str], date]], *, session: AsyncSession
) -> int:
    """`record_picks` for many (telegram_id, skus, day) at once; how many were new.

    On PostgreSQL one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`; elsewhere one look-up
    and one insert of what it did not find."""
    wanted = {(tid, sku, on) for tid, skus, on in entries for sku in skus}
    if not wanted:
        return 0
    if on_postgresql(session):
        ordered = sorted(wanted)
        new_rows = unnest_rows(
            "picked",
            telegram_id=(BigInteger, [tid for tid, _, _ in ordered]),
            sku=(String, [sku for _, sku, _ in ordered]),
            sent_on=(Date, [on for _, _, on in ordered]),
        )
        columns = ["telegram_id", "sku", "sent_on"]
        return await rows_written(
            dialect_insert(session, table_of(PickSent))
            .from_select(columns, sa_select(*(new_rows.c[name] for name in columns)))
            .on_conflict_do_nothing(index_elements=["telegram_id", "sent_on", "sku"]),
            session=session,
        )
    known: set[tuple[int, str, date]] = set()
    ids = sorted({tid for tid, _, _ in wanted})
    days = sorted({on for _, _, on in wanted})
    for part in chunks(ids):
        rows = await session.exec(
            select(col(PickSent.telegram_id), col(PickSent.sku), col(PickSent.sent_on)).where(
                col(PickSent.telegram_id).in_(part), col(PickSent.sent_on).in_(days)
            )
        )
        known.update((int(tid), sku, on) for tid, sku, on in rows.all())
    new = [dict(telegram_id=tid, sku=sku, sent_on=on) for tid, sku, on in sorted(wanted - known)]
    if new:  # a plain INSERT of many rows: thousands of ORM objects would cost more than the database
        connection = await session.connection()
        await connection.execute(insert(PickSent.__table__), new)  # type: ignore[attr-defined]
    return len(new)


async def not_interested_skus(telegram_ids: Collection[int], *, session: AsyncSession) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for chunk in chunks(sorted(set(telegram_ids))):
        rows = await session.exec(
            select(NotInterested.telegram_id, NotInterested.sku).where(
                col(NotInterested.telegram_id).in_(chunk)
            )
        )
        for telegram_id, sku in rows.all():
            found[int(telegram_id)].add(sku)
    return dict(found)


async def mark_not_interested(telegram_id: int, sku: str, *, session: AsyncSession) -> bool:
    """Remember 不感兴趣; False when it was already remembered (by this tap or a concurrent one)."""
    row = NotInterested(telegram_id=telegram_id, sku=sku).model_dump(exclude={"id"})
    statement = (
        dialect_insert(session, table_of(NotInterested))
        .values(**row)
        .on_conflict_do_nothing(index_elements=["telegram_id", "sku"])
    )
    return await rows_written(statement, session=session) > 0
