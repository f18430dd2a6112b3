"""The one outbound path: every request the bot makes passes the `Outbound` request middleware.

Handler replies, callback answers, edits, photos, inline answers, alerts and digests all go through
`bot.session`, so one middleware there paces them all and handler code stays as it is:

- **Priorities.** A context variable says who is sending (`priority(Priority.BROADCAST)` around the
  digest, `ALERT` around alerts); anything else is a person's reply. The global budget is a token
  bucket; a reply takes a token whenever one is left, an alert only while more than half the reserve
  is left, a broadcast only while more than the whole reserve is left. Sustained reply demand keeps
  the bucket below the reserve, so broadcasts drop to zero and use only what replies leave.
- **Telegram's limits.** Messages (send*, edit*, copy, forward) take a global token and keep one chat
  `chat_interval` apart (1 s), a group or channel `group_interval` apart (3 s: 20 per minute).
  Other methods (answerCallbackQuery, answerInlineQuery, setMyCommands...) are not chat messages:
  they are not paced, but like every method they honour 429.
- **429.** `retry_after` pauses every message of the bot (in every replica, with Redis), then the
  request is made again: a reply is never lost to flood control (up to `max_flood_retries` times).
- **Failures.** Only a failure that provably happened before the request left (connection refused,
  DNS: `never_left`) is retried here. A timeout, a reset or a 5xx may have reached Telegram and is
  raised to the caller, who decides (the digest marks its row `unknown`, never re-sends it).

The budget lives in the process (`LocalLimiter`) or, with REDIS_URL, in Redis (`RedisLimiter`, one
atomic Lua script per grant, shared by every replica); if Redis is unreachable the process logs it and
falls back to its local budget for a while rather than stop sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.exceptions import TelegramRetryAfter
from redis.asyncio import Redis

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)


class Priority(IntEnum):
    REPLY = 0  # a person is waiting for it
    ALERT = 1  # merchant and watch alerts
    BROADCAST = 2  # the digest


_PRIORITY: contextvars.ContextVar[Priority] = contextvars.ContextVar(
    "outbound_priority", default=Priority.REPLY
)


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Send everything inside (and in tasks started inside) at `level`."""
    token = _PRIORITY.set(level)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> Priority:
    return _PRIORITY.get()


# Failures that happen while connecting: the request cannot have reached Telegram.
_NEVER_LEFT = (aiohttp.ClientConnectorError, ConnectionRefusedError, socket.gaierror)


def never_left(exc: BaseException) -> bool:
    """True when `exc` provably happened before the request left (connection refused, DNS failure).

    aiogram wraps aiohttp's errors in TelegramNetworkError, keeping the original as the context.
    """
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if isinstance(seen, _NEVER_LEFT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_chat_message(api_method: str) -> bool:
    """Methods that put (or change) a message in a chat: these are what Telegram's limits count."""
    name = api_method.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "copymessage", "forwardmessage", "editmessage"))


def chat_key(chat_id: Any) -> str | None:
    return None if chat_id is None else str(chat_id)


def is_group(chat_id: Any) -> bool:
    """Groups and channels have negative ids (or an @username): they get the 20-per-minute spacing."""
    if isinstance(chat_id, int):
        return chat_id < 0
    return isinstance(chat_id, str) and (chat_id.startswith(("-", "@")))


# What Telegram allows a bot's ordinary (not paid-broadcast) messages, with a margin.
FREE_RATE = 25.0


@dataclass(frozen=True)
class Budget:
    """The bot's outbound budget: `rate` messages/s overall with bursts of `burst`, and `reserve`
    tokens only replies may use (alerts may use half of it)."""

    rate: float = 25.0
    burst: float = 4.0
    reserve: float = 2.0
    chat_interval: float = 1.0
    group_interval: float = 3.0
    # With paid broadcast only the digest may go faster than Telegram's free ~30/s: everything else
    # (replies, alerts) also takes a token from this second, free-tier bucket. None: one bucket.
    free_rate: float | None = None
    free_burst: float = 4.0

    @classmethod
    def for_rate(cls, rate: float, *, paid: bool = False) -> Budget:
        # A burst of 5% of a second's budget, at least 2 (half of it the replies' reserve). Requests
        # granted together can arrive bunched on a loaded machine; this leaves that bunching room
        # inside Telegram's limits: with 15%, two replicas sharing two busy cores drew 429s at
        # 1,000/s (benchmarks/broadcast_rate.py --processes 2). At 25/s a floor of 2 grants at most
        # 27 in any second; two webhook replicas on a loaded machine still showed 30-32 arrivals in
        # their busiest second at the server (33 with a floor of 4; benchmarks/replicas.py).
        burst = max(2.0, rate * 0.05)
        free_rate = FREE_RATE if paid and rate > FREE_RATE else None
        return cls(rate=rate, burst=burst, reserve=burst / 2, free_rate=free_rate)

    def free_tier(self, level: Priority) -> bool:
        """Whether `level` must also fit the free-tier bucket (everything but a paid broadcast)."""
        return self.free_rate is not None and level != Priority.BROADCAST

    def need(self, level: Priority) -> float:
        """Tokens that must be in the bucket for `level` to take one."""
        return 1.0 + self.reserve * {Priority.REPLY: 0.0, Priority.ALERT: 0.5, Priority.BROADCAST: 1.0}[level]

    def interval(self, chat_id: Any) -> float:
        if chat_id is None:
            return 0.0
        return self.group_interval if is_group(chat_id) else self.chat_interval


@dataclass(frozen=True)
class Grant:
    """One try at the budget: granted, or how long to wait and whether the chat (not the bucket) is busy."""

    ok: bool
    wait: float = 0.0
    chat_busy: bool = False


class Limiter(Protocol):
    budget: Budget

    async def acquire(self, chat_id: Any, level: Priority) -> None: ...

    async def pause(self, seconds: float) -> None: ...

    async def close(self) -> None: ...


HEAD_RATE = 100.0  # messages/s one head of a line can ask for (a Redis round trip is about a millisecond)


class _Queued:
    """Waiting in line: one head per priority asks the budget, so waiters do not all poll at once.

    A head held up by its own chat's spacing steps out of the line to wait, so one busy chat does
    not hold up everybody else's. At high rates (paid broadcast) one head asking Redis one round
    trip at a time could not keep up, so a line has one head per HEAD_RATE messages/s of budget.
    """

    budget: Budget

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        heads = max(1, int(budget.rate // HEAD_RATE))
        self._lines = {level: asyncio.Semaphore(heads) for level in Priority}

    async def _try(self, chat_id: Any, level: Priority) -> Grant:
        raise NotImplementedError

    async def acquire(self, chat_id: Any, level: Priority) -> None:
        while True:
            async with self._lines[level]:
                while True:
                    grant = await self._try(chat_id, level)
                    if grant.ok:
                        return
                    if grant.chat_busy:
                        break
                    await asyncio.sleep(grant.wait)
            await asyncio.sleep(grant.wait)


class LocalLimiter(_Queued):
    """The budget inside one process."""

    def __init__(self, budget: Budget | None = None, *, clock=time.monotonic) -> None:
        super().__init__(budget or Budget())
        self._clock = clock
        self._tokens = self.budget.burst
        self._stamp = clock()
        self._free_tokens = self.budget.free_burst
        self._paused_until = float("-inf")
        # chat -> earliest time of its next message; only recently written chats are kept.
        self._chat_ready: OrderedDict[str, float] = OrderedDict()

    def try_take(self, chat_id: Any, level: Priority) -> Grant:
        b = self.budget
        now = self._clock()
        if self._paused_until > now:
            return Grant(False, self._paused_until - now)
        key = chat_key(chat_id)
        if key is not None and (ready := self._chat_ready.get(key, now)) > now:
            return Grant(False, ready - now, chat_busy=True)
        elapsed = now - self._stamp
        self._tokens = min(b.burst, self._tokens + elapsed * b.rate)
        if b.free_rate is not None:
            self._free_tokens = min(b.free_burst, self._free_tokens + elapsed * b.free_rate)
        self._stamp = now
        need = b.need(level)
        if self._tokens < need:
            return Grant(False, (need - self._tokens) / b.rate)
        free = b.free_tier(level)
        if free and b.free_rate is not None and self._free_tokens < 1.0:
            return Grant(False, (1.0 - self._free_tokens) / b.free_rate)
        self._tokens -= 1.0
        if free:
            self._free_tokens -= 1.0
        if key is not None:
            self._chat_ready[key] = now + b.interval(chat_id)
            self._chat_ready.move_to_end(key)
            self._forget_idle_chats(now)
        return Grant(True)

    async def _try(self, chat_id: Any, level: Priority) -> Grant:
        return self.try_take(chat_id, level)

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def close(self) -> None:
        return None

    def _forget_idle_chats(self, now: float) -> None:
        while self._chat_ready:
            key, ready = next(iter(self._chat_ready.items()))
            if ready > now and len(self._chat_ready) < 100_000:
                break
            del self._chat_ready[key]


# One call asks for several grants in turn (RedisLimiter batches the requests waiting at one moment).
# KEYS: bucket hash, pause key, free-tier bucket hash, then one chat key per request (the empty string:
# no chat). ARGV: rate, burst, free rate, free burst, then per request: tokens needed, chat interval,
# 1 if it must also fit the free tier. Server time, so replicas' clocks do not matter.
# Returns, per request, granted 0/1, wait seconds as a string, chat busy 0/1 (flattened).
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local free_rate, free_burst = tonumber(ARGV[3]), tonumber(ARGV[4])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
tokens = math.min(burst, tokens + math.max(0, now - (tonumber(b[2]) or now)) * rate)
local free = nil
local took, took_free = false, false
local out = {}
for i = 0, (#ARGV - 4) / 3 - 1 do
  local need, interval = tonumber(ARGV[5 + 3 * i]), tonumber(ARGV[6 + 3 * i])
  local chat = KEYS[4 + i]
  local ok, wait, busy = 0, 0, 0
  local ready = 0
  if paused <= now and chat ~= '' then ready = tonumber(redis.call('GET', chat) or '0') end
  if paused > now then
    wait = paused - now
  elseif ready > now then
    wait, busy = ready - now, 1
  elseif tokens < need then
    wait = (need - tokens) / rate
  else
    if ARGV[7 + 3 * i] == '1' then
      if free == nil then
        local f = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
        local since = math.max(0, now - (tonumber(f[2]) or now))
        free = math.min(free_burst, (tonumber(f[1]) or free_burst) + since * free_rate)
      end
      if free < 1 then wait = (1 - free) / free_rate end
    end
    if wait == 0 then
      ok, tokens, took = 1, tokens - 1, true
      if ARGV[7 + 3 * i] == '1' then free, took_free = free - 1, true end
      if chat ~= '' and interval > 0 then
        redis.call('SET', chat, tostring(now + interval), 'PX', math.ceil(interval * 1000) + 1000)
      end
    end
  end
  out[#out + 1] = ok
  out[#out + 1] = tostring(wait)
  out[#out + 1] = busy
end
if took then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], 60000)
end
if took_free then
  redis.call('HSET', KEYS[3], 'tokens', tostring(free), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[3], 60000)
end
return out
"""

_PAUSE = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > current then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""

REDIS_RETRY_AFTER_OUTAGE = 5.0  # seconds on the local budget before trying Redis again


class RedisLimiter(_Queued):
    """The budget in Redis, shared by every replica that uses the same `prefix`."""

    def __init__(
        self, redis: Redis, budget: Budget | None = None, *, prefix: str = "xuanpin:outbound"
    ) -> None:
        super().__init__(budget or Budget())
        self.redis = redis
        self.prefix = prefix
        self.local = LocalLimiter(self.budget)
        self._take = redis.register_script(_TAKE)
        self._pause = redis.register_script(_PAUSE)
        self._down_until = float("-inf")
        self._asking: list[tuple[Any, Priority, asyncio.Future[Grant]]] = []  # waiting for the next call
        self._asker: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """True while Redis is considered down and the local budget is used."""
        return time.monotonic() < self._down_until

    def _outage(self, exc: Exception) -> None:
        if not self.degraded:
            logger.warning("redis unreachable (%s): using this process's own send budget for now", exc)
        self._down_until = time.monotonic() + REDIS_RETRY_AFTER_OUTAGE

    async def _try(self, chat_id: Any, level: Priority) -> Grant:
        if self.degraded:
            return self.local.try_take(chat_id, level)
        future: asyncio.Future[Grant] = asyncio.get_running_loop().create_future()
        self._asking.append((chat_id, level, future))
        if self._asker is None:
            self._asker = asyncio.create_task(self._ask_in_turn(), name="outbound-budget")
        return await future

    async def _ask_in_turn(self) -> None:
        """Ask Redis for whatever is waiting, one call at a time: the requests that arrive during a
        call go together in the next (at 1,000 messages/s a call per request was a sixth of a
        sender's CPU, in the Redis client)."""
        batch: list[tuple[Any, Priority, asyncio.Future[Grant]]] = []
        try:
            while self._asking:
                batch, self._asking = self._asking, []
                try:
                    grants = await self._ask([(chat_id, level) for chat_id, level, _ in batch])
                except Exception as exc:  # noqa: BLE001 - any Redis failure: keep sending on the local budget
                    self._outage(exc)
                    grants = [self.local.try_take(chat_id, level) for chat_id, level, _ in batch]
                for (_, _, future), grant in zip(batch, grants, strict=True):
                    if not future.done():
                        future.set_result(grant)
                batch = []
        except BaseException:  # cancelled (shutting down): nobody may wait for an answer that never comes
            for _, _, future in [*batch, *self._asking]:
                future.cancel()
            self._asking = []
            raise
        finally:
            self._asker = None

    async def _ask(self, requests: list[tuple[Any, Priority]]) -> list[Grant]:
        b = self.budget
        keys = [f"{self.prefix}:bucket", f"{self.prefix}:pause", f"{self.prefix}:free"]
        args: list[Any] = [b.rate, b.burst, b.free_rate or 0, b.free_burst]
        for chat_id, level in requests:
            key = chat_key(chat_id)
            keys.append(f"{self.prefix}:chat:{key}" if key else "")
            args += [b.need(level), b.interval(chat_id), int(b.free_tier(level))]
        flat = await self._take(keys=keys, args=args)
        return [
            Grant(bool(int(flat[i])), float(flat[i + 1]), bool(int(flat[i + 2])))
            for i in range(0, len(flat), 3)
        ]

    async def pause(self, seconds: float) -> None:
        await self.local.pause(seconds)
        if self.degraded:
            return
        try:
            await self._pause(keys=[f"{self.prefix}:pause"], args=[seconds])
        except Exception as exc:  # noqa: BLE001 - see _try
            self._outage(exc)

    async def close(self) -> None:
        await self.redis.aclose()


class Outbound(BaseRequestMiddleware):
    """Bot request middleware: paces chat messages by priority, honours 429 for every method, and
    retries what provably never left."""

    def __init__(
        self,
        limiter: Limiter,
        *,
        max_retry_after: float = 300.0,
        max_flood_retries: int = 5,
        connect_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.limiter = limiter
        self.max_retry_after = max_retry_after
        self.max_flood_retries = max_flood_retries
        self.connect_retries = connect_retries
        self.backoff = backoff

    async def __call__(self, make_request, bot, method):  # type: ignore[no-untyped-def]
        paced = is_chat_message(method.__api_method__)
        chat_id = getattr(method, "chat_id", None) if paced else None
        level = current_priority()
        floods = connects = 0
        while True:
            if paced:
                await self.limiter.acquire(chat_id, level)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                floods += 1
                if exc.retry_after > self.max_retry_after or floods > self.max_flood_retries:
                    raise
                logger.warning(
                    "flood control on %s (chat %s): waiting %ss",
                    method.__api_method__,
                    chat_id,
                    exc.retry_after,
                )
                if paced:
                    await self.limiter.pause(float(exc.retry_after))
                else:
                    await asyncio.sleep(exc.retry_after)
            except Exception as exc:
                connects += 1
                if not never_left(exc) or connects > self.connect_retries:
                    raise
                logger.info("%s never left (%s); retry %s", method.__api_method__, exc, connects)
                await asyncio.sleep(self.backoff * 2 ** (connects - 1))


def outbound_of(bot: Bot) -> Outbound | None:
    """The Outbound middleware on this bot's session, if any."""
    session = getattr(bot, "session", None)  # stand-in bots in tests may have none
    middlewares = getattr(session, "middleware", ())
    return next((m for m in middlewares if isinstance(m, Outbound)), None)


def install(bot: Bot, limiter: Limiter) -> Outbound:
    """Put the outbound middleware on `bot` (once). Install it first: the first middleware is the
    outermost, so the ones added later (the digest's wire guard) run once per attempt."""
    existing = outbound_of(bot)
    if existing is not None:
        existing.limiter = limiter
        return existing
    middleware = Outbound(limiter)
    bot.session.middleware(middleware)
    return middleware


def build_limiter(
    rate: float, redis_url: str | None, *, prefix: str = "xuanpin:outbound", paid: bool = False
) -> Limiter:
    """The bot's budget at `rate` messages/s: in Redis when `redis_url` is set, else in the process.
    `paid` (paid broadcast): only broadcasts may use more than the free tier's FREE_RATE."""
    budget = Budget.for_rate(rate, paid=paid)
    if not redis_url:
        return LocalLimiter(budget)
    client = Redis.from_url(redis_url, socket_connect_timeout=1.0, socket_timeout=1.0)
    return RedisLimiter(client, budget, prefix=prefix)
