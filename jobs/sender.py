"""The sender of the daily digest and merchant alerts: bounded retries and a final outcome per message.

Pacing: on a bot from `bot.services.build_bot` the bot's outbound middleware (bot/outbound.py) paces
every request — replies, alerts and digests share one budget, the digest at the lowest priority — and
this sender does not pace again. On a bare Bot (no outbound middleware) it paces itself as before: a
global pace of ``rate_per_second``, ``per_chat_interval`` between two messages to one chat, and a
shared pause when Telegram answers 429.

Delivery is **at most once**: a message is sent again only when the failure provably happened before
the request left (connection refused, DNS: `bot.outbound.never_left`) or Telegram answered 429 (it
was certainly not delivered). After a timeout, a reset connection or a 5xx the request may have
reached Telegram (the Bot API has no idempotency key), so the outcome is ``UNKNOWN`` and the message
is not sent again: a user may miss it, but never gets it twice.

Make one Sender per bot and share it. Messages to one chat are spaced, but their order is not
promised when several are in flight at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import aiohttp
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions

from bot.outbound import never_left, outbound_of
from bot.session import SendMessageForIds, SentIds

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # shared by every message: never changed once built

# Telegram's documented ceilings: ~30 messages/s overall, up to 1000/s with paid broadcasts.
FREE_RATE_CEILING = 30.0
PAID_RATE_CEILING = 1000.0

# 400 descriptions that mean the chat itself is gone, not that this message was wrong.
_INVALID_CHAT_MARKERS = (
    "chat not found",
    "user is deactivated",
    "peer_id_invalid",
    "user not found",
    "chat_id is empty",
)

# The request failed without a word from Telegram: the server hiccuped (5xx, an HTML error page from
# a proxy) or the connection failed or timed out. Retried only when it provably never left
# (`never_left`); otherwise the outcome is unknown. aiogram wraps aiohttp errors and timeouts in
# TelegramNetworkError; the raw ones are listed in case a session middleware lets them through.
_TRANSIENT = (
    TelegramServerError,
    TelegramNetworkError,
    ClientDecodeError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)


class Outcome(StrEnum):
    SENT = "sent"
    BLOCKED = "blocked"  # 403: the user blocked the bot (or never started it); stop until /start
    INVALID = "invalid"  # the chat does not exist any more
    FAILED = "failed"  # gave up: a bad message, or retries exhausted; certainly not delivered
    UNKNOWN = "unknown"  # the request may have reached Telegram (timeout, reset, 5xx): not sent again


@dataclass(frozen=True)
class Outgoing:
    """One message to send; ``key`` is the caller's id for it (e.g. a delivery row id)."""

    chat_id: int
    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    key: str | int | None = None


@dataclass(frozen=True)
class Delivery:
    """What became of one :class:`Outgoing`; ``attempts`` counts the requests made for it.

    ``retry_after`` is set when the last answer was a 429 (flood control, the seconds Telegram asked
    to wait): the message was then certainly not delivered, and may be sent again later.
    """

    outgoing: Outgoing
    outcome: Outcome
    message_id: int | None
    error: str | None
    attempts: int
    retry_after: float | None = None


class Sender:
    """Sends HTML messages under Telegram's limits, shared by every caller in the process."""

    def __init__(
        self,
        bot: Bot,
        *,
        rate_per_second: float = 25.0,
        per_chat_interval: float = 1.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 300.0,
        paid_broadcast: bool = False,
        workers: int = 8,
        request_timeout: int = 30,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        ceiling = PAID_RATE_CEILING if paid_broadcast else FREE_RATE_CEILING
        if not 0 < rate_per_second <= ceiling:
            hint = "" if paid_broadcast else " (higher rates need paid_broadcast=True)"
            raise ValueError(f"rate_per_second must be in (0, {ceiling:g}]{hint}, got {rate_per_second}")
        if max_attempts < 1 or workers < 1:
            raise ValueError("max_attempts and workers must be at least 1")
        if per_chat_interval < 0 or backoff_base < 0 or backoff_max < 0 or max_retry_after < 0:
            raise ValueError("intervals and waits must not be negative")
        self._bot = bot
        self._interval = 1.0 / rate_per_second
        # How late past its slot a worker may still send; later than that, after a stall of the event
        # loop, sending at once would burst, so it takes a new slot instead.
        self._late_tolerance = max(self._interval, 0.05)
        self._per_chat_interval = per_chat_interval
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._paid_broadcast = paid_broadcast
        self._workers = workers
        self._request_timeout = request_timeout
        self._clock = clock
        self._sleep = sleep
        self._next_slot = float("-inf")  # earliest time the next request may start
        self._paused_until = float("-inf")  # set by a 429; nobody sends before it
        # chat_id -> earliest time of the next request to it; only chats written to recently are kept.
        self._chat_ready: OrderedDict[int, float] = OrderedDict()
        # The bot's outbound middleware paces every request: pacing here too would be a second budget.
        self._paced_by_bot = outbound_of(bot) is not None

    @property
    def paused_until(self) -> float:
        """The clock time until which a 429 holds every send (in the past when not paused)."""
        return self._paused_until

    async def send(self, out: Outgoing) -> Delivery:
        """Send one message, retrying what is worth retrying; never raises for a Telegram error."""
        attempts = 0
        while True:
            attempts += 1
            if not self._paced_by_bot:
                await self._acquire(out.chat_id)
            try:
                message = await self._request(out)
            except TelegramRetryAfter as exc:
                final = self._flooded(out, attempts, exc)
            except TelegramEntityTooLarge as exc:  # a TelegramNetworkError, but retrying cannot help
                final = _done(out, Outcome.FAILED, attempts, _describe(exc))
            except _TRANSIENT as exc:
                final = await self._transient(out, attempts, exc)
            except TelegramAPIError as exc:
                final = _answered(out, attempts, exc)
            else:
                return Delivery(out, Outcome.SENT, message.message_id, None, attempts)
            if final is not None:
                return final

    async def _request(self, out: Outgoing) -> SentIds:
        method = SendMessageForIds(  # only the message_id is kept: Telegram's echo is not parsed whole
            chat_id=out.chat_id,
            text=out.text,
            parse_mode=ParseMode.HTML,
            link_preview_options=_NO_PREVIEW,
            reply_markup=out.reply_markup,
            allow_paid_broadcast=True if self._paid_broadcast else None,
        )
        sent = await self._bot(method, request_timeout=self._request_timeout)  # type: ignore[arg-type]
        return cast(SentIds, sent)

    def _flooded(self, out: Outgoing, attempts: int, exc: TelegramRetryAfter) -> Delivery | None:
        """A 429: pause every worker; None to try again once the pause is over, else the final refusal."""
        # Telegram wants silence from the whole bot, not just this chat.
        self._pause(min(float(exc.retry_after), self._max_retry_after))
        if exc.retry_after > self._max_retry_after:
            return _refused(out, attempts, exc, f"retry_after {exc.retry_after}s is too long")
        if attempts >= self._max_attempts:
            return _refused(out, attempts, exc, _describe(exc))
        logger.warning("flood control: all sends paused %ss (chat %s)", exc.retry_after, out.chat_id)
        return None

    async def _transient(self, out: Outgoing, attempts: int, exc: BaseException) -> Delivery | None:
        """A hiccup: if the request never left, back off and return None to try again (or give up after
        max_attempts); if it may have reached Telegram, the outcome is unknown and it is not re-sent."""
        if not never_left(exc):
            logger.warning("chat %s: %s; may have been delivered, not re-sent", out.chat_id, _describe(exc))
            return _done(out, Outcome.UNKNOWN, attempts, _describe(exc))
        if attempts >= self._max_attempts:
            logger.warning("chat %s: giving up after %s attempts: %s", out.chat_id, attempts, exc)
            return _done(out, Outcome.FAILED, attempts, _describe(exc))
        delay = self._backoff(attempts)
        logger.info("chat %s: %s; retry %s in %.2fs", out.chat_id, _describe(exc), attempts, delay)
        await self._sleep(delay)
        return None

    async def send_many(
        self,
        outs: Iterable[Outgoing] | AsyncIterable[Outgoing],
        *,
        on_delivery: Callable[[Delivery], Awaitable[None]] | None = None,
        collect: bool = True,
    ) -> list[Delivery]:
        """Send every message with ``workers`` concurrent workers; returns deliveries as they finished.

        ``on_delivery`` is awaited for each message as soon as it is done (an exception from it stops
        the whole pass). ``outs`` is consumed lazily, a few messages ahead of the workers, so a long
        async stream stays in bounded memory; pass ``collect=False`` to not keep the results either.
        """
        queue: asyncio.Queue[Outgoing | None] = asyncio.Queue(maxsize=self._workers)
        batch = _Batch(collect, on_delivery)
        started = self._clock()
        tasks = [asyncio.create_task(self._produce(outs, queue))]
        tasks += [asyncio.create_task(self._work(queue, batch)) for _ in range(self._workers)]
        await _all_or_first_error(tasks)
        counts = batch.counts
        logger.info(
            "sent %s, blocked %s, invalid %s, failed %s, unknown %s in %.1fs",
            counts[Outcome.SENT],
            counts[Outcome.BLOCKED],
            counts[Outcome.INVALID],
            counts[Outcome.FAILED],
            counts[Outcome.UNKNOWN],
            self._clock() - started,
        )
        return batch.results

    async def _produce(
        self, outs: Iterable[Outgoing] | AsyncIterable[Outgoing], queue: asyncio.Queue[Outgoing | None]
    ) -> None:
        if isinstance(outs, AsyncIterable):
            async for out in outs:
                await queue.put(out)
        else:
            for out in outs:
                await queue.put(out)
        for _ in range(self._workers):
            await queue.put(None)  # one stop sign per worker

    async def _work(self, queue: asyncio.Queue[Outgoing | None], batch: _Batch) -> None:
        while (out := await queue.get()) is not None:
            await batch.add(await self.send(out))

    # ------------------------------------------------------------------ pacing

    async def _acquire(self, chat_id: int) -> None:
        """Wait for a send slot: not paused, the global pace and this chat's spacing all allow it."""
        while True:
            now = self._clock()
            ready = max(self._paused_until, self._chat_ready.get(chat_id, now))
            if ready > now:
                await self._sleep(ready - now)
                continue
            # Reserve the next global slot and this chat (no await in between, so no other worker
            # can take either), then sleep until the slot comes.
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
            previous = self._chat_ready.get(chat_id)
            self._chat_ready[chat_id] = slot + self._per_chat_interval
            if slot > now:
                await self._sleep(slot - now)
            now = self._clock()
            # A 429 came in while we waited, or the loop woke us so late that sending now would bunch
            # up with the next slots: give the chat back and queue again.
            if now < self._paused_until or now - slot > self._late_tolerance:
                if previous is None:
                    self._chat_ready.pop(chat_id, None)
                else:
                    self._chat_ready[chat_id] = previous
                continue
            # Space the chat from when we really send, in case the loop woke us late.
            self._chat_ready[chat_id] = now + self._per_chat_interval
            self._chat_ready.move_to_end(chat_id)
            self._forget_idle_chats(now)
            return

    def _pause(self, seconds: float) -> None:
        until = self._clock() + seconds
        if until > self._paused_until:
            self._paused_until = until
            self._next_slot = max(self._next_slot, until)

    def _forget_idle_chats(self, now: float) -> None:
        # Entries are (nearly) in time order, so the stale ones sit at the front.
        while self._chat_ready:
            chat_id, ready = next(iter(self._chat_ready.items()))
            if ready > now:
                break
            del self._chat_ready[chat_id]

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: between half and all of base * 2^(attempt-1), capped."""
        delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
        return delay / 2 + random.uniform(0, delay / 2)


@dataclass
class _Batch:
    """What one send_many gathers: counts by outcome, the deliveries (when collected), the callback."""

    collect: bool
    on_delivery: Callable[[Delivery], Awaitable[None]] | None
    results: list[Delivery] = field(default_factory=list)
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))

    async def add(self, delivery: Delivery) -> None:
        self.counts[delivery.outcome] += 1
        if self.collect:
            self.results.append(delivery)
        if self.on_delivery is not None:
            await self.on_delivery(delivery)


async def _all_or_first_error(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task; at the first exception cancel the others and raise it."""
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


def _answered(out: Outgoing, attempts: int, exc: TelegramAPIError) -> Delivery:
    """Telegram's final word on a message (403, 400, 401, 404...): nothing a retry would fix."""
    if isinstance(exc, TelegramForbiddenError):
        logger.info("chat %s blocked the bot: %s", out.chat_id, exc.message)
        return _done(out, Outcome.BLOCKED, attempts, _describe(exc))
    if isinstance(exc, TelegramMigrateToChat):
        return _done(out, Outcome.INVALID, attempts, _describe(exc))
    if isinstance(exc, TelegramBadRequest):
        lowered = exc.message.lower()
        outcome = Outcome.INVALID if any(m in lowered for m in _INVALID_CHAT_MARKERS) else Outcome.FAILED
        logger.info("chat %s: %s (%s)", out.chat_id, exc.message, outcome)
        return _done(out, outcome, attempts, _describe(exc))
    logger.warning("chat %s: %s", out.chat_id, exc)
    return _done(out, Outcome.FAILED, attempts, _describe(exc))


def _done(out: Outgoing, outcome: Outcome, attempts: int, error: str) -> Delivery:
    return Delivery(out, outcome, None, error, attempts)


def _refused(out: Outgoing, attempts: int, exc: TelegramRetryAfter, error: str) -> Delivery:
    """Given up under flood control: not delivered, and the caller learns how long Telegram asked to wait."""
    return Delivery(out, Outcome.FAILED, None, error, attempts, retry_after=float(exc.retry_after))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TelegramAPIError):
        return f"{type(exc).__name__}: {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
