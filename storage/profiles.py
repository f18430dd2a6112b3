"""A streamer's settings: digest on/off and time, time zone, chosen categories, language.

Every function takes the caller's session (keyword-only) and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import User
from storage.users import insert_user_if_absent, load_user

MAX_CHOSEN = 20


def split_list(text: str | None) -> tuple[str, ...]:
    """`a;b;;c` -> ("a", "b", "c")."""
    return tuple(part for part in (text or "").split(";") if part)


@dataclass(frozen=True, slots=True)
class StreamerProfile:
    """What picks and the digest need to know about one user."""

    telegram_id: int
    language: str = "zh"
    timezone: str | None = None
    digest_enabled: bool = True
    digest_time: str | None = None
    active: bool = True
    chosen: tuple[str, ...] = ()
    registered: bool = False


def profile_of(user: User) -> StreamerProfile:
    return StreamerProfile(
        telegram_id=int(user.telegram_id),
        language=user.language,
        timezone=user.timezone,
        digest_enabled=user.digest_enabled,
        digest_time=user.digest_time,
        active=user.active,
        chosen=split_list(user.chosen_categories),
        registered=True,
    )


async def get_profile(telegram_id: int, *, session: AsyncSession) -> StreamerProfile:
    """The user's settings; defaults for someone known only from imported sales (or not at all)."""
    user = await session.get(User, telegram_id)
    return profile_of(user) if user is not None else StreamerProfile(telegram_id=telegram_id)


async def ensure_user(telegram_id: int, *, language: str, session: AsyncSession) -> User:
    """The user's row, created if they talk to the bot before /start (settings need somewhere to live)."""
    user = await session.get(User, telegram_id)
    if user is not None:
        return user
    # Another process may create it between the look and the insert: an upsert, never a duplicate key.
    await insert_user_if_absent(telegram_id, language=language, session=session)
    return await load_user(telegram_id, session=session)


async def set_digest(
    telegram_id: int, *, language: str, enabled: bool, at: str | None = None, session: AsyncSession
) -> StreamerProfile:
    """Digests on or off; `at` ('HH:MM') also sets the time (and turns them on)."""
    user = await ensure_user(telegram_id, language=language, session=session)
    user.digest_enabled = enabled
    if at is not None:
        user.digest_time = at
    await session.flush()
    return profile_of(user)


async def set_timezone(
    telegram_id: int, zone: str, *, language: str, session: AsyncSession
) -> StreamerProfile:
    user = await ensure_user(telegram_id, language=language, session=session)
    user.timezone = zone
    await session.flush()
    return profile_of(user)


async def set_chosen_categories(
    telegram_id: int, chosen: Sequence[str], *, language: str, session: AsyncSession
) -> StreamerProfile:
    user = await ensure_user(telegram_id, language=language, session=session)
    user.chosen_categories = ";".join(dict.fromkeys(c for c in chosen if c and ";" not in c))[:500]
    await session.flush()
    return profile_of(user)
