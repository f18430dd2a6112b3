"""The long-lived things every handler and job shares: settings, database, policy, search index, sender."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import LinkPreviewOptions
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import LockError, RedisError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dedup import UpdateDedup
from bot.outbound import Limiter, LocalLimiter, build_limiter, install
from bot.response_types import KeepResponseTypes
from bot.session import JsonSession
from bot.settings import Settings
from bot.throttle import Throttle, make_throttle
from core.catalog import CatalogItem
from core.policy import Policy, default_policy, load_policy
from core.search import SearchIndex
from core.search.normalize import warm_up
from core.search.vocab import default_vocabulary
from jobs.sender import Sender
from storage.catalog import catalog_version, load_catalog_items
from storage.importer import ImportLimits
from storage.synonyms import list_synonyms
from storage.users import FactsReader

logger = logging.getLogger(__name__)


# What follows a catalog change: (bot, services, tier changes). jobs/after_import.py provides it; the
# composition root plugs it in (bot/dispatcher.py), so handlers announce a change without importing jobs/.
AfterCatalogChange = Callable[[Bot | None, "Services", Sequence[Any]], Awaitable[None]]
# Sends a confirmed push and reports to the admin: (bot, services, push id, admin chat, language).
# jobs/push.py provides it, plugged in the same way.
PushRunner = Callable[[Bot, "Services", int, int, str], Awaitable[None]]

JOBS_WAIT_SECONDS = 60.0
# How long one replica may hold the catalog fan-out across processes before Redis lets another in
# (a replica killed mid fan-out must not block the others for ever).
FANOUT_LOCK_SECONDS = 900
REDIS_CONNECTIONS = 64  # per process: de-duplication, the catalog subscription and lock, others' uses


@dataclass
class Services:
    """Long-lived things handed to every handler as keyword data."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    policy: Policy
    catalog: CatalogIndex
    sender: Sender | None = None  # made once a bot exists
    after_catalog_change: AfterCatalogChange | None = None
    push_runner: PushRunner | None = None
    throttle: Throttle | None = None  # guessable commands (/bind); made on first use
    redis: Redis | None = None  # REDIS_URL: shared by the replicas (de-duplication, catalog notices)
    facts_reader: FactsReader | None = None  # PostgreSQL: each update's user read outside a session
    # Held while the index is rebuilt and merchants and watchers are told, by the post-import job or
    # the catalog watch: one fan-out at a time, so a change is not told twice.
    catalog_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _jobs: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)
    dedup: UpdateDedup = field(init=False, repr=False)
    # Tells this process's own catalog notices from other replicas'.
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex, init=False)

    def __post_init__(self) -> None:
        self.dedup = UpdateDedup(self.redis, prefix=self.settings.redis_prefix)

    @property
    def catalog_channel(self) -> str:
        return catalog_channel(self.settings)

    async def announce_catalog_change(self) -> bool:
        """Tell the other replicas the catalog changed (they refresh at once); False without Redis."""
        if self.redis is None:
            return False
        return await announce_catalog_change(self.redis, self.settings, sender=self.instance_id)

    @asynccontextmanager
    async def catalog_fanout(self) -> AsyncIterator[None]:
        """Held while the index is rebuilt and merchants and watchers are told: one fan-out at a time
        in this process (catalog_lock) and, with Redis, across the replicas, so only one tells."""
        async with self.catalog_lock:
            if self.redis is None:
                yield
                return
            lock = self.redis.lock(
                f"{self.settings.redis_prefix}:catalog-fanout",
                timeout=FANOUT_LOCK_SECONDS,
                blocking_timeout=FANOUT_LOCK_SECONDS,
            )
            try:
                held = await lock.acquire()
            except (RedisError, OSError) as exc:
                logger.warning("catalog fan-out without the shared lock (Redis: %s)", exc)
                held = False
            try:
                yield
            finally:
                if held:
                    try:
                        await lock.release()
                    except (LockError, RedisError, OSError) as exc:  # expired: another may hold it now
                        logger.warning("could not release the catalog fan-out lock: %s", exc)

    def guess_throttle(self) -> Throttle:
        """The throttle for commands whose argument can be guessed, shared across replicas via Redis."""
        if self.throttle is None:
            self.throttle = make_throttle(
                self.settings.guess_tries,
                self.settings.guess_window_seconds,
                redis_url=self.settings.redis_url,
            )
        return self.throttle

    def import_limits(self) -> ImportLimits:
        return import_limits(self.settings)

    def sender_for(self, bot: Bot) -> Sender:
        """The one shared rate-limited sender (digest and alerts), made on first use for this bot."""
        if self.sender is None:
            self.sender = make_sender(bot, self.settings)
        return self.sender

    def catalog_changed(self, bot: Bot | None, tier_changes: Sequence[Any] = ()) -> asyncio.Task[None]:
        """An import or a regrade wrote the catalog: start the follow-up job (fresh search index,
        merchant and watch alerts) in the background, so the admin's update does not wait for it."""
        task = asyncio.create_task(self._follow_up(bot, list(tier_changes)), name="after-catalog-change")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return task

    async def _follow_up(self, bot: Bot | None, tier_changes: list[Any]) -> None:
        try:
            if self.after_catalog_change is not None:
                await self.after_catalog_change(bot, self, tier_changes)
            else:  # nothing plugged in: searches at least see the new catalog
                await self.catalog.refresh(self.sessionmaker)
            await self.announce_catalog_change()
        except Exception:  # noqa: BLE001 - a background job has nobody to raise to; the catalog watch retries
            logger.exception("the job after a catalog change failed")

    def start_push(self, bot: Bot, push_id: int, *, admin_chat: int, lang: str) -> asyncio.Task[None]:
        """An admin confirmed a push: send it in the background (the admin's update does not wait)."""
        task = asyncio.create_task(self._push(bot, push_id, admin_chat, lang), name=f"push-{push_id}")
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return task

    async def _push(self, bot: Bot, push_id: int, admin_chat: int, lang: str) -> None:
        try:
            if self.push_runner is None:
                raise RuntimeError("no push runner plugged in (bot.dispatcher does it)")
            await self.push_runner(bot, self, push_id, admin_chat, lang)
        except Exception:  # noqa: BLE001 - a background job has nobody to raise to; rerunning the push finishes it
            logger.exception("push %s failed", push_id)

    async def jobs_done(self) -> None:
        """Wait (at most JOBS_WAIT_SECONDS) until the background jobs, and any they started, are over."""
        async with asyncio.timeout(JOBS_WAIT_SECONDS):
            while self._jobs:
                await asyncio.wait(set(self._jobs))

    async def cancel_jobs(self) -> None:
        """Stop the background jobs still running (shutdown)."""
        jobs = set(self._jobs)
        for task in jobs:
            task.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


def make_sender(bot: Bot, settings: Settings) -> Sender:
    """A sender within Telegram's limits, at DIGEST_RATE (paid broadcast when the operator enabled it).

    On a bot from `build_bot` the sender does not pace itself: the bot's outbound limiter does, one
    budget for replies and broadcasts alike."""
    return Sender(bot, rate_per_second=settings.digest_rate, paid_broadcast=settings.digest_paid_broadcast)


def import_limits(settings: Settings) -> ImportLimits:
    """What one upload may cost, from IMPORT_MAX_* settings."""
    return ImportLimits(
        max_bytes=settings.import_max_bytes,
        max_unzipped_bytes=settings.import_max_unzipped_bytes,
        max_ratio=settings.import_max_ratio,
        max_rows=settings.import_max_rows,
        max_columns=settings.import_max_columns,
        max_cell_chars=settings.import_max_cell_chars,
        max_price=settings.import_max_price,
        max_gmv=settings.import_max_gmv,
    )


def catalog_channel(settings: Settings) -> str:
    """The Redis channel on which whoever changed the catalog tells the running replicas."""
    return f"{settings.redis_prefix}:catalog-changed"


async def announce_catalog_change(redis: Redis, settings: Settings, *, sender: str) -> bool:
    """Publish a catalog notice; False when Redis did not take it (the slow catalog poll still will)."""
    try:
        await redis.publish(catalog_channel(settings), sender)
    except (RedisError, OSError) as exc:
        logger.warning("could not announce the catalog change: %s", exc)
        return False
    return True


def make_redis(settings: Settings) -> Redis | None:
    """The one Redis client of the process (REDIS_URL), or None when the bot runs alone without it."""
    if not settings.redis_url:
        return None
    # A blocking pool: a burst of updates waits a moment for a connection instead of failing with
    # "Too many connections" (redis-py's default pool raises at 100). Timeouts keep a Redis that
    # stopped answering from stalling every update behind it.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=REDIS_CONNECTIONS,
        timeout=5,
        socket_timeout=5,
        socket_connect_timeout=5,
    )
    return Redis.from_pool(pool)


def policy_for(settings: Settings) -> Policy:
    return load_policy(settings.policy_file) if settings.policy_file else default_policy()


def build_catalog_index() -> CatalogIndex:
    return CatalogIndex(SearchIndex.build)


def bot_defaults() -> DefaultBotProperties:
    return DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True))


def outbound_limiter(settings: Settings) -> Limiter:
    """The bot's send budget: DIGEST_RATE messages/s for everything it sends, in Redis when
    REDIS_URL is set (shared by every replica), else in this process (bot/outbound.py). With paid
    broadcast only the digest goes above Telegram's free rate; replies and alerts keep to it."""
    return build_limiter(settings.digest_rate, settings.redis_url, paid=settings.digest_paid_broadcast)


def build_bot(
    token: str,
    *,
    api_url: str | None = None,
    session: BaseSession | None = None,
    limiter: Limiter | None = None,
) -> Bot:
    """A Bot on Telegram's API, on a custom Bot API server (`api_url`), or on a given session.

    Every request to Telegram goes through the outbound limiter (`limiter`, else a local one at
    25 messages/s): priorities, Telegram's limits, 429s honoured. A given session (the terminal demo,
    the test harness) is not paced unless a limiter is given too: it does not talk to Telegram."""
    if session is None:
        session = JsonSession()
        if api_url:
            session.api = TelegramAPIServer.from_base(api_url.rstrip("/"))
        limiter = limiter or LocalLimiter()
    bot = Bot(token=token, session=session, default=bot_defaults())
    if limiter is not None:
        install(bot, limiter)
    bot.session.middleware(KeepResponseTypes())  # parsing answers must not rebuild pydantic classes
    return bot


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
