"""Streamers for a product (达人匹配): who may be found, who muted whom, and the invitations sent.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.profiles import ensure_user, split_list
from storage.sql import chunks, dialect_insert
from storage.tables import MatchInvite, MerchantMute, StreamerSale, User


@dataclass(frozen=True, slots=True)
class Findable:
    """A streamer who turned discoverability on: what /match needs of them."""

    telegram_id: int
    name: str
    language: str
    chosen: tuple[str, ...]


async def is_discoverable(telegram_id: int, *, session: AsyncSession) -> bool:
    user = await session.get(User, telegram_id)
    return user is not None and user.discoverable and user.active


async def set_discoverable(telegram_id: int, on: bool, *, language: str, session: AsyncSession) -> bool:
    user = await ensure_user(telegram_id, language=language, session=session)
    user.discoverable = on
    await session.flush()
    return on


async def findable_streamers(*, session: AsyncSession) -> list[Findable]:
    """Every active user who agreed to be found (roles add up: a merchant user who streams counts)."""
    rows = await session.exec(
        select(User.telegram_id, User.name, User.language, User.chosen_categories)
        .where(col(User.discoverable).is_(True), col(User.active).is_(True))
        .order_by(col(User.telegram_id))
    )
    return [
        Findable(int(tid), name or "", lang or "zh", split_list(chosen))
        for tid, name, lang, chosen in rows.all()
    ]


async def findable(telegram_id: int, *, session: AsyncSession) -> Findable | None:
    user = await session.get(User, telegram_id)
    if user is None or not (user.discoverable and user.active):
        return None
    return Findable(int(user.telegram_id), user.name, user.language, split_list(user.chosen_categories))


async def total_gmv(telegram_ids: Iterable[int], *, session: AsyncSession) -> dict[int, float]:
    """streamer -> 30-day GMV over every category (for the band only; never shown as a figure)."""
    ids = sorted(set(telegram_ids))
    out: dict[int, float] = {}
    for chunk in chunks(ids):
        rows = await session.exec(
            select(StreamerSale.telegram_id, func.sum(StreamerSale.gmv_30d))
            .where(col(StreamerSale.telegram_id).in_(chunk))
            .group_by(col(StreamerSale.telegram_id))
        )
        out.update({int(tid): float(total or 0) for tid, total in rows.all()})
    return out


async def mute(streamer_id: int, merchant_id: int, *, session: AsyncSession) -> None:
    """The streamer hears no more from this merchant (idempotent)."""
    statement = dialect_insert(session, MerchantMute).values(streamer_id=streamer_id, merchant_id=merchant_id)
    await session.exec(statement.on_conflict_do_nothing(index_elements=["streamer_id", "merchant_id"]))


async def is_muted(streamer_id: int, merchant_id: int, *, session: AsyncSession) -> bool:
    row = (
        await session.exec(
            select(MerchantMute.id).where(
                MerchantMute.streamer_id == streamer_id, MerchantMute.merchant_id == merchant_id
            )
        )
    ).first()
    return row is not None


async def muted_by(merchant_id: int, *, session: AsyncSession) -> set[int]:
    """The streamers who muted this merchant."""
    rows = await session.exec(select(MerchantMute.streamer_id).where(MerchantMute.merchant_id == merchant_id))
    return {int(tid) for tid in rows.all()}


async def invites_since(
    since: datetime, *, merchant_id: int | None = None, streamer_id: int | None = None, session: AsyncSession
) -> int:
    """Invitations sent since `since` by a merchant, or to a streamer (the rate limits)."""
    statement = select(func.count()).select_from(MatchInvite).where(col(MatchInvite.created_at) >= since)
    if merchant_id is not None:
        statement = statement.where(MatchInvite.merchant_id == merchant_id)
    if streamer_id is not None:
        statement = statement.where(MatchInvite.streamer_id == streamer_id)
    return int((await session.exec(statement)).one())


async def already_invited(
    merchant_id: int, streamer_id: int, product_id: int, *, session: AsyncSession
) -> bool:
    row = (
        await session.exec(
            select(MatchInvite.id).where(
                MatchInvite.merchant_id == merchant_id,
                MatchInvite.streamer_id == streamer_id,
                MatchInvite.product_id == product_id,
            )
        )
    ).first()
    return row is not None


async def record_invite(
    merchant_id: int, streamer_id: int, product_id: int, *, sent_by: int, session: AsyncSession
) -> None:
    session.add(
        MatchInvite(merchant_id=merchant_id, streamer_id=streamer_id, product_id=product_id, sent_by=sent_by)
    )
    await session.flush()
