"""Factories: the dispatcher, the bot, and the long-lived things they share."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ErrorEvent, LinkPreviewOptions
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.grading import Policy, default_policy, load_policy
from bot.i18n import lang_of, t
from bot.settings import Settings

if TYPE_CHECKING:
    from jobs.sender import Sender
    from storage.catalog import CatalogIndex

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Long-lived things handed to every handler as keyword data."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: Policy
    catalog: CatalogIndex
    sender: Sender | None = None  # made once a bot exists

    def sender_for(self, bot: Bot) -> Sender:
        """The one shared rate-limited sender (digest and alerts), made on first use for this bot."""
        if self.sender is None:
            self.sender = make_sender(bot, self.settings)
        return self.sender


def make_sender(bot: Bot, settings: Settings) -> Sender:
    """A sender within Telegram's limits, at DIGEST_RATE (paid broadcast when the operator enabled it)."""
    from jobs.sender import Sender

    return Sender(bot, rate_per_second=settings.digest_rate, paid_broadcast=settings.digest_paid_broadcast)


def policy_for(settings: Settings) -> Policy:
    return load_policy(settings.policy_file) if settings.policy_file else default_policy()


def build_catalog_index():
    from bot.search import SearchIndex
    from storage.catalog import CatalogIndex

    return CatalogIndex(SearchIndex.build)


def build_dispatcher(services: Services, **extra: Any) -> Dispatcher:
    """A new dispatcher with every router, the DB middleware and the shared services as data."""
    from handlers import setup_routers
    from handlers.middlewares import DbSessionMiddleware

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


def bot_defaults() -> DefaultBotProperties:
    return DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True))


def build_bot(token: str, *, api_url: str | None = None, session: BaseSession | None = None) -> Bot:
    """A Bot on Telegram's API, on a custom Bot API server (`api_url`), or on a given session."""
    if session is None:
        session = AiohttpSession()
        if api_url:
            session.api = TelegramAPIServer.from_base(api_url.rstrip("/"))
    return Bot(token=token, session=session, default=bot_defaults())
