"""The dispatcher factory: every router, the database middleware and the shared services as data."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import DefaultKeyBuilder, RedisStorage
from aiogram.types import ErrorEvent

from bot.dedup import UpdateGateMiddleware
from bot.i18n import lang_of, t
from bot.services import Services
from handlers import setup_routers
from handlers.middlewares import DbSessionMiddleware
from jobs.after_import import after_catalog_change
from jobs.push import push_and_report

logger = logging.getLogger(__name__)


def build_dispatcher(services: Services, **extra: Any) -> Dispatcher:
    """A new dispatcher with every router, the DB middleware and the shared services as data."""
    if services.after_catalog_change is None:  # what the handlers' catalog_changed() starts
        services.after_catalog_change = after_catalog_change
    if services.push_runner is None:  # what a confirmed /push starts
        services.push_runner = push_and_report
    dp = Dispatcher(
        storage=fsm_storage(services),
        settings=services.settings,
        sessionmaker=services.sessionmaker,
        policy=services.policy,
        catalog=services.catalog,
        services=services,
        facts_reader=services.facts_reader,
        **extra,
    )
    # De-duplication first: a duplicate never opens a database session.
    dp.update.outer_middleware(UpdateGateMiddleware(services.dedup))
    dp.update.outer_middleware(DbSessionMiddleware())
    dp.include_router(setup_routers())
    dp.errors.register(_on_error)
    return dp


def fsm_storage(services: Services) -> BaseStorage:
    """Where a conversation's state lives (a tracking number awaited...): in Redis when the replicas
    share one, since the answer may reach another replica than the question; else in the process."""
    if services.redis is None:
        return MemoryStorage()
    prefix = f"{services.settings.redis_prefix}:fsm"
    return RedisStorage(
        services.redis, key_builder=DefaultKeyBuilder(prefix=prefix), state_ttl=86400, data_ttl=86400
    )


async def _on_error(event: ErrorEvent) -> bool:
    """Log the failure and tell the user something went wrong, instead of going silent."""
    update = event.update
    logger.error("update %s failed", update.update_id, exc_info=event.exception)
    if update.callback_query is not None:
        query = update.callback_query
        try:
            await query.answer(t("error.internal", lang_of(query.from_user.language_code)))
        except TelegramAPIError:
            logger.warning("could not answer the failed callback")
    elif update.message is not None:
        message = update.message
        lang = lang_of(message.from_user.language_code if message.from_user else None)
        try:
            await message.answer(t("error.internal", lang))
        except TelegramAPIError:
            logger.warning("could not reply to the failed update")
    return True
