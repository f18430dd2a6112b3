"""A per-user throttle for commands whose argument can be guessed (/bind CODE; later team codes).

A fixed window per key (action and user): `tries` pass, the next one is told to wait, and the rest
within the window are dropped quietly (one answer, not one per try). `MemoryThrottle` counts in
this process; `RedisThrottle` counts in Redis, so every replica sees the same tries. A Redis
outage must not lock anyone out: the Redis throttle then counts in this process and logs it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

__all__ = ["MemoryThrottle", "RedisThrottle", "Throttle", "Verdict", "make_throttle"]

logger = logging.getLogger(__name__)

_PRUNE_AT = 10_000  # keys kept in memory before the expired ones are dropped
_REDIS_TIMEOUT = 0.5  # seconds: a slow Redis must not hold up a reply


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    wait: int = 0  # seconds until the window ends (refused only)
    tell: bool = False  # the first refusal in this window: answer "wait"; later ones stay silent


class Throttle(Protocol):
    async def hit(self, key: str) -> Verdict:
        """Count one try under `key`."""
        ...

    async def close(self) -> None: ...


def _verdict(count: int, tries: int, wait: float) -> Verdict:
    if count <= tries:
        return Verdict(allowed=True)
    return Verdict(allowed=False, wait=max(1, math.ceil(wait)), tell=count == tries + 1)


class MemoryThrottle:
    """Tries counted in this process."""

    def __init__(self, tries: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.tries = tries
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, tries in it)

    async def hit(self, key: str) -> Verdict:
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > _PRUNE_AT:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.window}
        return _verdict(count, self.tries, start + self.window - now)

    async def close(self) -> None:
        self._windows.clear()


class RedisThrottle:
    """Tries counted in Redis (shared by every replica); in this process while Redis is down."""

    def __init__(self, client: Redis, tries: int, window: int, *, prefix: str = "xuanpin:throttle:") -> None:
        self.client = client
        self.tries = tries
        self.window = window
        self.prefix = prefix
        self.fallback = MemoryThrottle(tries, window)
        self._down = False

    async def hit(self, key: str) -> Verdict:
        name = self.prefix + key
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                # SET NX starts the window with its expiry; INCR keeps the expiry.
                pipe.set(name, 0, ex=self.window, nx=True)
                pipe.incr(name)
                pipe.ttl(name)
                _, count, ttl = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._down:
                logger.warning("throttle: Redis unreachable (%s); counting tries in this process", exc)
            self._down = True
            return await self.fallback.hit(key)
        if self._down:
            logger.info("throttle: Redis is back")
            self._down = False
        return _verdict(int(count), self.tries, ttl if ttl > 0 else self.window)

    async def close(self) -> None:
        await self.client.aclose()


def make_throttle(
    tries: int, window: int, *, redis_url: str | None = None, prefix: str | None = None
) -> Throttle:
    """A Redis throttle when `redis_url` is set (nothing connects until the first try), else in memory."""
    if not redis_url:
        return MemoryThrottle(tries, window)
    client = Redis.from_url(redis_url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT)
    if prefix is None:
        return RedisThrottle(client, tries, window)
    return RedisThrottle(client, tries, window, prefix=prefix)
