"""Pushes (官方小二定向推荐): the push rows and the making of their delivery rows.

Every function takes the caller's session (keyword-only) and never commits. The delivery rows
themselves move through `storage.deliveries` (kind `PUSH`), the digest's states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.push import Audience, Segment, push_key
from storage.deliveries import PENDING, UNKNOWN
from storage.profiles import StreamerProfile, profile_of, split_list
from storage.sql import chunks, dialect_insert
from storage.tables import Category, Push, PushDelivery, User, utcnow


@dataclass(frozen=True, slots=True)
class PushView:
    id: int
    skus: tuple[str, ...]
    segment: Segment
    confirmed: bool


def _view(row: Push) -> PushView:
    segment = Segment(Audience(row.segment), row.category)
    return PushView(int(row.id or 0), split_list(row.skus), segment, row.confirmed_at is not None)


async def get_or_create_push(
    skus: Sequence[str], segment: Segment, *, created_by: int | None, session: AsyncSession
) -> PushView:
    """The push with these goods and segment, made (unconfirmed) if new."""
    key = push_key(skus, segment)
    values = dict(
        key=key,
        skus=";".join(skus),
        segment=segment.audience.value,
        category=segment.category,
        created_by=created_by,
        created_at=utcnow(),
    )
    table = Push.__table__  # type: ignore[attr-defined]
    await session.exec(
        dialect_insert(session, table).values(**values).on_conflict_do_nothing(index_elements=["key"])
    )
    row = (await session.exec(select(Push).where(col(Push.key) == key))).one()
    return _view(row)


async def get_push(push_id: int, *, session: AsyncSession) -> PushView | None:
    row = await session.get(Push, push_id)
    return _view(row) if row is not None else None


async def reachable_streamers(*, session: AsyncSession) -> list[StreamerProfile]:
    """Everyone a push may reach: started the bot, still reachable, digests on."""
    rows = await session.exec(
        select(User)
        .where(col(User.digest_enabled).is_(True), col(User.active).is_(True))
        .order_by(col(User.telegram_id))
    )
    return [profile_of(user) for user in rows.all()]


async def category_exists(name: str, *, session: AsyncSession) -> bool:
    return (await session.exec(select(Category.id).where(col(Category.name) == name))).first() is not None


async def confirm_push(
    push_id: int,
    recipients: Sequence[int],
    *,
    local_date: date,
    now: datetime | None = None,
    session: AsyncSession,
) -> bool:
    """Fix the push's recipients, once: True for the caller that confirmed it (and made its rows).

    A push already confirmed keeps the recipients it had then, so running it again reaches nobody new.
    """
    now = now or utcnow()
    won = await session.exec(
        update(Push).where(col(Push.id) == push_id, col(Push.confirmed_at).is_(None)).values(confirmed_at=now)
    )
    if (won.rowcount or 0) != 1:
        return False
    table = PushDelivery.__table__  # type: ignore[attr-defined]
    for chunk in chunks(list(dict.fromkeys(recipients))):
        rows = [
            dict(
                push_id=push_id,
                telegram_id=tid,
                local_date=local_date,
                status=PENDING,
                skus="",
                attempts=0,
                created_at=now,
                updated_at=now,
            )
            for tid in chunk
        ]
        await session.exec(
            dialect_insert(session, table)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["push_id", "telegram_id"])
        )
    return True


async def push_counts(push_id: int, *, session: AsyncSession) -> dict[str, int]:
    """The push's delivery rows by status."""
    rows = await session.exec(
        select(PushDelivery.status, func.count())
        .where(col(PushDelivery.push_id) == push_id)
        .group_by(PushDelivery.status)
    )
    return {status: int(n) for status, n in rows.all()}


@dataclass(frozen=True, slots=True)
class PushStatus:
    """A confirmed push as the operator sees it: its goods, its rows by status, and the rows whose
    delivery is unknown (the request may have reached Telegram; never re-sent)."""

    id: int
    skus: tuple[str, ...]
    counts: dict[str, int]
    unknown: list[PushDelivery]


async def push_statuses(*, limit: int = 1000, session: AsyncSession) -> list[PushStatus]:
    """Every push that has delivery rows, newest first, with at most `limit` unknown rows in all."""
    counts: dict[int, dict[str, int]] = {}
    rows = await session.exec(
        select(PushDelivery.push_id, PushDelivery.status, func.count()).group_by(
            col(PushDelivery.push_id), col(PushDelivery.status)
        )
    )
    for push_id, status, n in rows.all():
        counts.setdefault(int(push_id), {})[status] = int(n)
    unknown: dict[int, list[PushDelivery]] = {}
    lost = await session.exec(
        select(PushDelivery)
        .where(col(PushDelivery.status) == UNKNOWN)
        .order_by(col(PushDelivery.push_id), col(PushDelivery.id))
        .limit(limit)
    )
    for row in lost.all():
        unknown.setdefault(row.push_id, []).append(row)
    if not counts:
        return []
    pushes = (await session.exec(select(Push).where(col(Push.id).in_(list(counts))))).all()
    ids = {int(push.id or 0): push for push in pushes}
    statuses = [PushStatus(i, split_list(p.skus), counts[i], unknown.get(i, [])) for i, p in ids.items()]
    return sorted(statuses, key=lambda status: -status.id)
