"""Each update is handled once, even when Telegram posts it twice (a webhook answer that timed out)
or two replicas both receive it.

With Redis, the first process to `SET NX` the update's id handles it; the key expires after
DEDUP_TTL. Without Redis, a bounded in-process memory of recent ids does the same for one process.
The claim is taken before anything else runs: an update whose handler then fails is not retried
(answering twice is worse than the "something went wrong" the user already got).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.metrics import UPDATE_SECONDS, UPDATES

logger = logging.getLogger(__name__)

# Telegram re-posts an unanswered webhook update within minutes; two hours is ample and keeps
# Redis small (one short key per update).
DEDUP_TTL_SECONDS = 2 * 60 * 60
LOCAL_CAPACITY = 100_000  # recent update ids one process remembers without Redis


class UpdateDedup:
    """`first_time(update_id)` is True once per update id: across processes with Redis, else in-process."""

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        prefix: str = "xuanpin",
        ttl: int = DEDUP_TTL_SECONDS,
        capacity: int = LOCAL_CAPACITY,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl
        self.capacity = capacity
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def first_time(self, update_id: int) -> bool:
        if self.redis is not None:
            try:
                claimed = await self.redis.set(f"{self.prefix}:update:{update_id}", 1, nx=True, ex=self.ttl)
                return bool(claimed)
            except (RedisError, OSError) as exc:
                # Redis is away: handle the update (a rare double answer beats silence), and still
                # remember it locally so this process at least does not repeat itself.
                logger.warning("update de-duplication without Redis (%s): using this process's memory", exc)
        return self._first_time_here(update_id)

    def _first_time_here(self, update_id: int) -> bool:
        if update_id in self._seen:
            self._seen.move_to_end(update_id)
            return False
        self._seen[update_id] = None
        if len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return True


# Updates handled at once, in polling and webhook mode alike. More would only queue for the database
# pool (20 connections) while holding memory, and time out there after 30 s under a burst; past this
# many, an update waits here before it takes anything.
UPDATES_IN_FLIGHT = 32


class UpdateGateMiddleware(BaseMiddleware):
    """The outermost update middleware of ours: drops a duplicate before any database session opens,
    bounds how many updates are handled at once, then counts the update and times its handling
    (bot/metrics.py)."""

    def __init__(self, dedup: UpdateDedup, *, in_flight: int = UPDATES_IN_FLIGHT) -> None:
        self.dedup = dedup
        self._slots = asyncio.Semaphore(in_flight)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        kind = event.event_type
        if not await self.dedup.first_time(event.update_id):
            UPDATES.labels(kind, "duplicate").inc()
            logger.info("update %s was already handled: ignored", event.update_id)
            return UNHANDLED
        async with self._slots:
            return await self._handle(handler, event, data, kind)

    async def _handle(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: Update,
        data: dict[str, Any],
        kind: str,
    ) -> Any:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handler(event, data)
            outcome = "ok"
            return result
        finally:
            UPDATES.labels(kind, outcome).inc()
            UPDATE_SECONDS.labels(kind).observe(time.perf_counter() - started)
