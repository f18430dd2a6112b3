"""团长 (leaders) and their teams: /invite_leader, binding with a one-time code, team links, members.

A 团长 is a row with a name and a team code; a Telegram user bound with a leader invite gets
`user.leader_id` (the role adds up with the others). A streamer who opens the team link gets
`user.team_id`, one team at a time, and can leave it.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.match import gmv_band
from storage.invites import INVITE_TTL, new_code, normalise_code
from storage.sql import aware
from storage.tables import InviteCode, Leader, LeaderInvite, StreamerSale, User, utcnow

TEAM_CODE_BYTES = 6  # ~8 url-safe characters: not guessable, short enough for a link


@dataclass(frozen=True, slots=True)
class LeaderRef:
    id: int
    name: str
    team_code: str


def _ref(row: Leader) -> LeaderRef:
    assert row.id is not None
    return LeaderRef(row.id, row.name, row.team_code)


async def get_leader(leader_id: int, *, session: AsyncSession) -> LeaderRef | None:
    row = await session.get(Leader, leader_id)
    return _ref(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class LeaderInviteRef:
    code: str
    leader: LeaderRef
    expires_at: datetime


async def create_leader(
    name: str, *, created_by: int, now: datetime | None = None, session: AsyncSession
) -> LeaderInviteRef:
    """A new 团长 named `name`, with a team code and a one-time code to bind their Telegram account."""
    now = now or utcnow()
    team_code = secrets.token_urlsafe(TEAM_CODE_BYTES)
    leader = Leader(name=name[:100], team_code=team_code, created_by=created_by, created_at=now)
    session.add(leader)
    await session.flush()
    code = new_code()
    # Merchant and leader codes share /bind: neither table may hold a code the other has.
    while (
        await session.get(LeaderInvite, code) is not None or await session.get(InviteCode, code) is not None
    ):
        code = new_code()
    assert leader.id is not None
    invite = LeaderInvite(
        code=code, leader_id=leader.id, created_by=created_by, created_at=now, expires_at=now + INVITE_TTL
    )
    session.add(invite)
    await session.flush()
    return LeaderInviteRef(code, _ref(leader), invite.expires_at)


class LeaderBind(StrEnum):
    BOUND = "bound"
    ALREADY = "already"
    USED = "used"
    USED_BY_YOU = "used_by_you"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class LeaderBindResult:
    status: LeaderBind
    leader: LeaderRef


async def bind_leader(
    code: str,
    *,
    telegram_id: int,
    name: str = "",
    username: str | None = None,
    language: str = "zh",
    now: datetime | None = None,
    session: AsyncSession,
) -> LeaderBindResult | None:
    """Use a leader code (None: no such leader code — it may be a merchant's). Roles add up."""
    now = now or utcnow()
    code = normalise_code(code)
    invite = await session.get(LeaderInvite, code) if code else None
    if invite is None:
        return None
    leader = await session.get(Leader, invite.leader_id)
    assert leader is not None
    ref = _ref(leader)
    user = await session.get(User, telegram_id)
    if invite.used_by is not None:
        return LeaderBindResult(
            LeaderBind.USED_BY_YOU if invite.used_by == telegram_id else LeaderBind.USED, ref
        )
    if aware(invite.expires_at) <= now:
        return LeaderBindResult(LeaderBind.EXPIRED, ref)
    if user is not None and user.leader_id == invite.leader_id:
        return LeaderBindResult(LeaderBind.ALREADY, ref)
    taken = await session.exec(
        update(LeaderInvite)
        .where(col(LeaderInvite.code) == code, col(LeaderInvite.used_by).is_(None))
        .values(used_by=telegram_id, used_at=now)
    )
    if taken.rowcount != 1:  # someone raced us to it
        return LeaderBindResult(LeaderBind.USED, ref)
    if user is None:
        user = User(telegram_id=telegram_id, name=name, username=username, language=language)
        session.add(user)
    user.leader_id = invite.leader_id
    await session.flush()
    return LeaderBindResult(LeaderBind.BOUND, ref)


class JoinStatus(StrEnum):
    JOINED = "joined"
    SWITCHED = "switched"  # left another team for this one
    ALREADY = "already"
    UNKNOWN = "unknown"
    OWN = "own"  # a 团长 opening their own link


@dataclass(frozen=True, slots=True)
class JoinResult:
    status: JoinStatus
    leader: LeaderRef | None = None
    previous: LeaderRef | None = None


async def join_team(team_code: str, *, telegram_id: int, session: AsyncSession) -> JoinResult:
    """The user (registered by /start just before) joins the team of `team_code`."""
    row = (await session.exec(select(Leader).where(col(Leader.team_code) == team_code[:16]))).first()
    if row is None:
        return JoinResult(JoinStatus.UNKNOWN)
    leader = _ref(row)
    user = await session.get(User, telegram_id)
    if user is None:
        return JoinResult(JoinStatus.UNKNOWN)
    if user.leader_id == leader.id:
        return JoinResult(JoinStatus.OWN, leader)
    if user.team_id == leader.id:
        return JoinResult(JoinStatus.ALREADY, leader)
    previous = await get_leader(user.team_id, session=session) if user.team_id is not None else None
    user.team_id = leader.id
    await session.flush()
    return JoinResult(JoinStatus.SWITCHED if previous else JoinStatus.JOINED, leader, previous)


async def leave_team(telegram_id: int, *, session: AsyncSession) -> LeaderRef | None:
    """Leave the user's team; returns the team left (None: they were in none)."""
    user = await session.get(User, telegram_id)
    if user is None or user.team_id is None:
        return None
    left = await get_leader(user.team_id, session=session)
    user.team_id = None
    await session.flush()
    return left


async def team_of(telegram_id: int, *, session: AsyncSession) -> LeaderRef | None:
    user = await session.get(User, telegram_id)
    if user is None or user.team_id is None:
        return None
    return await get_leader(user.team_id, session=session)


@dataclass(frozen=True, slots=True)
class Member:
    """A team streamer as their 团长 sees them: a name and a GMV band, never a figure."""

    telegram_id: int
    name: str
    gmv_band: str


async def team_members(leader_id: int, *, limit: int = 50, session: AsyncSession) -> tuple[int, list[Member]]:
    """How many streamers are in the team, and the first `limit` of them (largest band first)."""
    total = (
        await session.exec(select(func.count()).select_from(User).where(col(User.team_id) == leader_id))
    ).one()
    gmv = func.coalesce(func.sum(StreamerSale.gmv_30d), 0.0)
    rows = (
        await session.exec(
            select(User.telegram_id, User.name, gmv)
            .outerjoin(StreamerSale, col(StreamerSale.telegram_id) == col(User.telegram_id))
            .where(col(User.team_id) == leader_id)
            .group_by(col(User.telegram_id), col(User.name))
            .order_by(gmv.desc(), col(User.telegram_id))
            .limit(limit)
        )
    ).all()
    return int(total), [
        Member(int(tid), name or "", gmv_band(float(total_gmv))) for tid, name, total_gmv in rows
    ]


async def leader_users(leader_id: int, *, session: AsyncSession) -> list[tuple[int, str]]:
    """(telegram id, language) of every active user bound to the 团长: who hears of submissions."""
    rows = (
        await session.exec(
            select(User.telegram_id, User.language)
            .where(col(User.leader_id) == leader_id, col(User.active).is_(True))
            .order_by(col(User.telegram_id))
        )
    ).all()
    return [(int(tid), lang or "zh") for tid, lang in rows]


async def list_leaders(*, session: AsyncSession) -> dict[int, str]:
    rows = (await session.exec(select(Leader.id, Leader.name))).all()
    return {int(i or 0): n for i, n in rows}
