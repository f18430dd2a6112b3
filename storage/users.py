"""Users and roles."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

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


async def get_user(session: AsyncSession, telegram_id: int) -> User | None:
    return await session.get(User, telegram_id)


async def register(
    session: AsyncSession, telegram_id: int, *, name: str, username: str | None, language: str
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


async def merchant_name(session: AsyncSession, merchant_id: int | None) -> str | None:
    if merchant_id is None:
        return None
    merchant = await session.get(Merchant, merchant_id)
    return merchant.name if merchant else None


async def user_by_ids(session: AsyncSession, ids: list[int]) -> list[User]:
    return list((await session.exec(select(User).where(User.telegram_id.in_(ids)))).all())  # type: ignore[attr-defined]
