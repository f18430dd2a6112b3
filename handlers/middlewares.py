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

from bot.i18n import lang_of
from bot.settings import Settings
from storage.users import STREAMER, Viewer, user_facts, viewer_of

logger = logging.getLogger(__name__)


class DbSessionMiddleware(BaseMiddleware):
    """Opens the update's session, builds the Viewer, and commits once the handler returns.

    Commits happen here and nowhere else in the handler layer.
    """

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        sessionmaker: async_sessionmaker = data["sessionmaker"]
        settings: Settings = data["settings"]
        tg_user: TgUser | None = data.get("event_from_user")
        async with sessionmaker() as session:
            data["session"] = session
            try:
                data["viewer"] = await _first_read(session, settings, tg_user)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The database restarted under a pooled connection (they are pinged only when idle,
                # storage/engine.py): the failure invalidated the pool, and nothing has happened yet.
                logger.warning("database connection lost; reading the user again on a fresh one")
                await session.rollback()
                data["viewer"] = await _first_read(session, settings, tg_user)
            await session.commit()  # hand the connection back: long handlers must not hold one
            result = await handler(event, data)
            if session.in_transaction():  # the handler read or wrote (adding an object counts too)
                await session.commit()
            return result


async def _first_read(session, settings: Settings, tg_user: TgUser | None) -> Viewer:
    if tg_user is not None:
        # One statement needs no transaction: reading the user in autocommit saves the BEGIN and
        # COMMIT round trips on every update; the handler's own work starts a transaction as usual.
        # On PostgreSQL the read goes to the driver directly (storage.users.user_facts), outside any
        # transaction already, and leaving the isolation level alone saves resetting it afterwards.
        if session.bind.dialect.name != "postgresql":
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return await _viewer(session, settings, tg_user)


async def _viewer(session, settings: Settings, tg_user: TgUser | None) -> Viewer:
    if tg_user is None:
        return Viewer(telegram_id=0, role=STREAMER, lang="zh")
    lang = lang_of(tg_user.language_code)
    # Read on every update, never cached: /bind in another process may have just changed the roles.
    user = await user_facts(tg_user.id, session=session)
    return viewer_of(user, tg_user.id, lang, is_admin=settings.is_admin(tg_user.id))
