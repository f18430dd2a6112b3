"""Users and roles: who is acting, registration on /start, merchant users to alert, blocked chats.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sql import chunks
from storage.tables import Merchant, User, utcnow

STREAMER, MERCHANT, ADMIN = "streamer", "merchant", "admin"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is acting, as the handlers need it: id, role, bound merchant and reply language."""

    telegram_id: int
    role: str
    lang: str
    merchant_id: int | None = None
    registered: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def owns(self, merchant_id: int) -> bool:
        return self.merchant_id is not None and self.merchant_id == merchant_id

    def may_see_private(self, merchant_id: int) -> bool:
        """Raw indicators are for the owning merchant and admins only."""
        return self.is_admin or self.owns(merchant_id)


async def get_user(telegram_id: int, *, session: AsyncSession) -> User | None:
    return await session.get(User, telegram_id)


async def role_of(telegram_id: int, *, session: AsyncSession) -> tuple[str, int | None] | None:
    """(role, merchant id) of a registered user, None for a stranger: two columns, no ORM object
    (this runs on every update)."""
    row = (
        await session.exec(select(User.role, User.merchant_id).where(col(User.telegram_id) == telegram_id))
    ).first()
    return None if row is None else (row[0], row[1])


async def register(
    telegram_id: int, *, name: str, username: str | None, language: str, session: AsyncSession
) -> tuple[User, bool]:
    """Create or refresh the user on /start; returns (user, was_inactive). Re-activates a blocked user."""
    user = await session.get(User, telegram_id)
    was_inactive = False
    if user is None:
        user = User(telegram_id=telegram_id, name=name, username=username, language=language)
        session.add(user)
    else:
        was_inactive = not user.active
        user.name, user.username, user.language = name, username, language
        user.active = True
        user.started_at = utcnow()
    await session.flush()
    return user, was_inactive


async def deactivate(telegram_id: int, *, session: AsyncSession) -> None:
    """Telegram says we may not write to this chat (403, or it is gone): stop until they /start again."""
    await session.exec(update(User).where(col(User.telegram_id) == telegram_id).values(active=False))


@dataclass(frozen=True, slots=True)
class AlertRecipient:
    telegram_id: int
    language: str
    merchant_id: int
    merchant_name: str


async def alert_recipients(merchant_ids: Iterable[int], *, session: AsyncSession) -> list[AlertRecipient]:
    """Every active user bound to one of `merchant_ids`: who hears of their goods' tier changes."""
    ids = sorted(set(merchant_ids))
    out: list[AlertRecipient] = []
    for chunk in chunks(ids):
        rows = (
            await session.exec(
                select(User.telegram_id, User.language, User.merchant_id, Merchant.name)
                .join(Merchant, col(Merchant.id) == col(User.merchant_id))
                .where(User.role == MERCHANT, col(User.merchant_id).in_(chunk), col(User.active).is_(True))
                .order_by(col(User.telegram_id))
            )
        ).all()
        out += [AlertRecipient(int(tid), lang or "zh", int(mid or 0), name) for tid, lang, mid, name in rows]
    return out
