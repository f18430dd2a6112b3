"""Invite codes: an admin's one-time code binds a Telegram user to a merchant as a merchant user.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.merchants import MerchantRef, get_merchant
from storage.sql import aware
from storage.tables import InviteCode, User, utcnow
from storage.users import insert_user_if_absent, load_user

INVITE_TTL = timedelta(days=7)
CODE_LENGTH = 8
# No 0/O, 1/I/L: a code read aloud or copied from a screenshot should not be mistyped.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What the merchant typed -> a stored code: full-width folded, upper case, no spaces or dashes."""
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in text if ch.isalnum())[:32]


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    merchant: MerchantRef
    expires_at: datetime


async def create_invite(
    merchant: MerchantRef, *, created_by: int, now: datetime | None = None, session: AsyncSession
) -> Invite:
    """A one-time code for `merchant`, valid for INVITE_TTL."""
    now = now or utcnow()
    code = new_code()
    while await session.get(InviteCode, code) is not None:  # ~10^12 codes: practically never loops
        code = new_code()
    invite = InviteCode(
        code=code, merchant_id=merchant.id, created_by=created_by, created_at=now, expires_at=now + INVITE_TTL
    )
    session.add(invite)
    await session.flush()
    return Invite(code, merchant, invite.expires_at)


class BindStatus(StrEnum):
    BOUND = "bound"  # linked (first time, or after being a streamer)
    SWITCHED = "switched"  # was linked to another merchant, now to this one
    ALREADY = "already"  # already linked to this merchant; the code is left unused
    UNKNOWN = "unknown"
    USED = "used"  # someone else used it
    USED_BY_YOU = "used_by_you"  # this user used it before (a re-sent code)
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class BindResult:
    status: BindStatus
    merchant: MerchantRef | None = None
    previous: MerchantRef | None = None


async def bind_invite(
    code: str,
    *,
    telegram_id: int,
    name: str = "",
    username: str | None = None,
    language: str = "zh",
    now: datetime | None = None,
    session: AsyncSession,
) -> BindResult:
    """Use a one-time code: the user becomes a merchant user of the code's merchant.

    Roles add up: the user stays a streamer with their picks, digest, watches and history; only
    `merchant_id` is set. A failing code says why: unknown, used, revoked or expired.
    The code is taken with one conditional UPDATE, so two people racing for it cannot both win.
    """
    now = now or utcnow()
    code = normalise_code(code)
    invite = await session.get(InviteCode, code) if code else None
    if invite is None:
        return BindResult(BindStatus.UNKNOWN)
    merchant = await get_merchant(invite.merchant_id, session=session)
    user = await session.get(User, telegram_id)
    already = user is not None and user.merchant_id == invite.merchant_id
    if invite.used_by is not None:
        mine = invite.used_by == telegram_id
        return BindResult(BindStatus.USED_BY_YOU if mine else BindStatus.USED, merchant)
    if invite.revoked_at is not None:
        return BindResult(BindStatus.REVOKED, merchant)
    if aware(invite.expires_at) <= now:
        return BindResult(BindStatus.EXPIRED, merchant)
    if already:
        return BindResult(BindStatus.ALREADY, merchant)
    taken = await session.exec(
        update(InviteCode)
        .where(
            col(InviteCode.code) == code, col(InviteCode.used_by).is_(None), col(InviteCode.expires_at) > now
        )
        .values(used_by=telegram_id, used_at=now)
    )
    if taken.rowcount != 1:
        return BindResult(BindStatus.USED, merchant)
    previous = None
    if user is None:
        await insert_user_if_absent(
            telegram_id, name=name, username=username, language=language, session=session
        )
        user = await load_user(telegram_id, session=session)
    elif user.merchant_id is not None:
        previous = await get_merchant(user.merchant_id, session=session)
    user.merchant_id = invite.merchant_id
    await session.flush()
    return BindResult(BindStatus.SWITCHED if previous else BindStatus.BOUND, merchant, previous)


class RevokeStatus(StrEnum):
    REVOKED = "revoked"
    ALREADY_REVOKED = "already_revoked"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


async def revoke_invite(code: str, *, now: datetime | None = None, session: AsyncSession) -> RevokeStatus:
    """Withdraw an unused code: it stops working now and says "revoked" when tried."""
    now = now or utcnow()
    invite = await session.get(InviteCode, normalise_code(code))
    if invite is None:
        return RevokeStatus.UNKNOWN
    if invite.used_by is not None:
        return RevokeStatus.USED
    if invite.revoked_at is not None:
        return RevokeStatus.ALREADY_REVOKED
    if aware(invite.expires_at) <= now:
        return RevokeStatus.EXPIRED
    invite.revoked_at = now
    invite.expires_at = now
    await session.flush()
    return RevokeStatus.REVOKED
