"""The dispatcher factory: every router, the database middleware and the shared services as data."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent

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
        settings=services.settings,
        sessionmaker=services.sessionmaker,
        policy=services.policy,
        catalog=services.catalog,
        services=services,
        **extra,
    )
    dp.update.outer_middleware(DbSessionMiddleware())
    dp.include_router(setup_routers())
    dp.errors.register(_on_error)
    return dp


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
