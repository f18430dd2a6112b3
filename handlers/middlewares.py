"""Outer middlewares: one database session per update, and who is acting (the Viewer)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import lang_of
from bot.settings import Settings
from storage.users import STREAMER, Facts, FactsReader, FactsUnavailable, Viewer, user_facts, viewer_of

logger = logging.getLogger(__name__)


class DbSessionMiddleware(BaseMiddleware):
    """Gives the update its session, builds the Viewer, and commits once the handler returns.

    Commits happen here and nowhere else in the handler layer. The session is opened lazily: on
    PostgreSQL the Viewer is read through `facts_reader` (storage.users.FactsReader), so an update
    whose handler never touches the database (most searches) never checks out a connection at all.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        sessionmaker: async_sessionmaker = data["sessionmaker"]
        settings: Settings = data["settings"]
        reader: FactsReader | None = data.get("facts_reader")
        tg_user: TgUser | None = data.get("event_from_user")
        session = sessionmaker()
        data["session"] = session
        try:
            data["viewer"] = await _viewer(session, reader, settings, tg_user)
            result = await handler(event, data)
            if session.in_transaction():  # the handler read or wrote (adding an object counts too)
                await session.commit()
            return result
        finally:
            # A session outside a transaction holds no connection: closing it would only cost a hop.
            if session.in_transaction():
                await session.close()


async def _viewer(
    session: AsyncSession, reader: FactsReader | None, settings: Settings, tg_user: TgUser | None
) -> Viewer:
    if tg_user is None:
        return Viewer(telegram_id=0, role=STREAMER, lang="zh")
    # Read on every update, never cached: /bind in another process may have just changed the roles.
    facts = await _facts(session, reader, tg_user.id)
    return viewer_of(
        facts, tg_user.id, lang_of(tg_user.language_code), is_admin=settings.is_admin(tg_user.id)
    )


async def _facts(session: AsyncSession, reader: FactsReader | None, telegram_id: int) -> Facts | None:
    if reader is not None:
        suspended = reader.suspended
        try:
            return await reader.read(telegram_id)
        except FactsUnavailable as exc:
            if not suspended:
                logger.warning("reading the user directly failed (%s); asking through the session", exc)
    try:
        facts = await _read_in_session(session, telegram_id)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        # The database restarted under a pooled connection (they are pinged only when idle,
        # storage/engine.py): the failure invalidated the pool, and nothing has happened yet.
        logger.warning("database connection lost; reading the user again on a fresh one")
        await session.rollback()
        facts = await _read_in_session(session, telegram_id)
    await session.commit()  # hand the connection back: long handlers must not hold one
    if reader is not None:
        reader.resume()  # the pool works again (or never stopped): the direct reads may go on
    return facts


async def _read_in_session(session: AsyncSession, telegram_id: int) -> Facts | None:
    # One statement needs no transaction: reading the user in autocommit saves the BEGIN and COMMIT
    # round trips; the handler's own work starts a transaction as usual.
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return await user_facts(telegram_id, session=session)
