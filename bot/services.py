"""The long-lived things every handler and job shares: settings, database, policy, search index, sender."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import LinkPreviewOptions
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from core.catalog import CatalogItem
from core.policy import Policy, default_policy, load_policy
from core.search import SearchIndex
from core.search.normalize import warm_up
from core.search.vocab import default_vocabulary
from jobs.sender import Sender
from storage.catalog import catalog_version, load_catalog_items
from storage.synonyms import list_synonyms

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
    return Sender(bot, rate_per_second=settings.digest_rate, paid_broadcast=settings.digest_paid_broadcast)


def policy_for(settings: Settings) -> Policy:
    return load_policy(settings.policy_file) if settings.policy_file else default_policy()


def build_catalog_index() -> CatalogIndex:
    return CatalogIndex(SearchIndex.build)


def bot_defaults() -> DefaultBotProperties:
    return DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True))


def build_bot(token: str, *, api_url: str | None = None, session: BaseSession | None = None) -> Bot:
    """A Bot on Telegram's API, on a custom Bot API server (`api_url`), or on a given session."""
    if session is None:
        session = AiohttpSession()
        if api_url:
            session.api = TelegramAPIServer.from_base(api_url.rstrip("/"))
    return Bot(token=token, session=session, default=bot_defaults())


class CatalogIndex:
    """The live search index. A refresh builds a new index aside and swaps one reference,
    so a search never sees a half-built index."""

    def __init__(self, builder) -> None:
        self._builder = builder  # Callable[[Sequence[CatalogItem], Vocabulary | None], SearchIndex]
        self._index = builder([])
        self._lock = asyncio.Lock()
        self.version = 0
        self.data_version: tuple | None = None  # catalog_version() of what the index was built from

    @property
    def current(self):
        return self._index

    def replace(self, items: Sequence[CatalogItem]) -> None:
        self._index = self._builder(items)
        self.version += 1

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession]) -> int:
        """Reload the catalog from the database and swap in a new index; returns the item count."""
        async with self._lock:
            async with sessionmaker() as session:
                data_version = await catalog_version(session=session)
                items = await load_catalog_items(session=session)
                pairs = await list_synonyms(session=session)
            vocabulary = default_vocabulary().with_pairs(pairs) if pairs else None
            index = await asyncio.to_thread(self._builder, items, vocabulary)
            await asyncio.to_thread(warm_up)  # the dictionaries, before the first sentence typed
            self._index = index
            self.version += 1
            self.data_version = data_version
            logger.info("search index rebuilt: %s products", len(items))
            return len(items)
