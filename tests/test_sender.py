"""The outbound sender: pacing, the shared 429 pause, retries and outcomes.

Most tests drive the real aiogram Bot against the fake Bot API over loopback and check what the server
recorded (who got what, and when it arrived). A few use a stub bot on virtual time, where pacing and the
pause can be checked exactly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Coroutine, Iterable
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiohttp import web

from jobs.sender import Delivery, Outcome, Outgoing, Sender
from tests.fakes import Call, FakeBotAPI

T = TypeVar("T")


@pytest.fixture
async def api():
    # The server enforces Telegram's limits, so any pacing slip shows up as an organic 429.
    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI):
    async with api.make_bot() as client:
        yield client


def outgoing(n: int, first_chat: int = 1000) -> list[Outgoing]:
    return [Outgoing(chat_id=first_chat + i, text=f"<b>精选</b> 第{i}条", key=i) for i in range(n)]


def by_key(deliveries: Iterable[Delivery]) -> dict[Any, Delivery]:
    result: dict[Any, Delivery] = {}
    for delivery in deliveries:
        assert delivery.outgoing.key not in result, f"key {delivery.outgoing.key} delivered twice"
        result[delivery.outgoing.key] = delivery
    return result


def assert_received_exactly(api: FakeBotAPI, outs: Iterable[Outgoing]) -> None:
    """Every given message reached its chat exactly once, and nothing else was delivered."""
    outs = list(outs)
    for out in outs:
        texts = [c.params["text"] for c in api.sent(out.chat_id)]
        assert texts == [out.text], f"chat {out.chat_id} got {texts}"
    assert len(api.sent()) == len(outs)


def sends(api: FakeBotAPI, chat_id: int) -> list[Call]:
    return [c for c in api.calls_to("sendMessage") if c.chat_id == chat_id]


# ---------------------------------------------------------------------------- over HTTP


async def test_sends_html_without_link_previews(bot: Bot, api: FakeBotAPI) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="详情", callback_data="d:1"),
                InlineKeyboardButton(text="不感兴趣", callback_data="n:1"),
            ]
        ]
    )
    delivery = await Sender(bot).send(
        Outgoing(42, "<b>今日精选</b> https://example.com", markup, key="row-7")
    )

    [call] = api.sent(42)
    assert delivery == Delivery(
        Outgoing(42, "<b>今日精选</b> https://example.com", markup, key="row-7"),
        Outcome.SENT,
        call.result["message_id"],
        None,
        1,
    )
    assert call.params["parse_mode"] == "HTML"
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert call.params["reply_markup"]["inline_keyboard"][0][1] == {
        "text": "不感兴趣",
        "callback_data": "n:1",
    }
    assert "allow_paid_broadcast" not in call.params


async def test_send_many_delivers_each_message_once(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(20)
    deliveries = await Sender(bot, workers=4).send_many(outs)
    assert set(by_key(deliveries)) == set(range(20))
    assert all(d.outcome is Outcome.SENT and d.attempts == 1 for d in deliveries)
    assert_received_exactly(api, outs)
    assert api.organic_429s == 0


async def test_429_mid_pass_pauses_every_worker(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(30)
    flooded = outs[10]
    api.fail("sendMessage", 429, retry_after=3, chat_id=flooded.chat_id)

    deliveries = by_key(await Sender(bot, rate_per_second=25, workers=8).send_many(outs))

    [flood] = [c for c in api.calls if c.injected]
    arrivals = [c.at for c in api.calls_to("sendMessage")]
    # Requests other workers had already let go when the 429 came back may still land during the pause
    # (at most one per other worker, however slow the machine); nothing else until retry_after has
    # passed. The pause itself is checked exactly on virtual time (test_virtual_pacing_and_pause_are_exact).
    during_pause = [t for t in arrivals if flood.at < t < flood.at + 3]
    after = [t for t in arrivals if t >= flood.at + 3]
    assert len(during_pause) <= 7
    assert len(after) >= 30 - 11 - 7  # it really was mid-pass, and the pass carried on
    [retried] = api.sent(flooded.chat_id)
    assert retried.at >= flood.at + 3

    assert deliveries[10].outcome is Outcome.SENT and deliveries[10].attempts == 2
    assert all(d.outcome is Outcome.SENT for d in deliveries.values())
    assert sorted(d.attempts for d in deliveries.values()) == [1] * 29 + [2]
    assert_received_exactly(api, outs)
    assert (api.injected_429s, api.organic_429s) == (1, 0)


async def test_permanent_429_fails_after_max_attempts(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(6)
    api.fail("sendMessage", 429, retry_after=1, times=None, chat_id=outs[2].chat_id)
    async with asyncio.timeout(10):  # bounded: it must give up, not wait forever
        deliveries = by_key(await Sender(bot, max_attempts=3).send_many(outs))

    failed = deliveries[2]
    assert failed.outcome is Outcome.FAILED and failed.attempts == 3
    assert failed.error is not None and "TelegramRetryAfter" in failed.error
    assert failed.retry_after == 1  # refused, as a value: certainly not delivered
    assert [c.status for c in sends(api, outs[2].chat_id)] == [429, 429, 429]
    assert_received_exactly(api, [o for o in outs if o.key != 2])
    assert api.organic_429s == 0


async def test_retry_after_beyond_the_cap_fails_at_once(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(3)
    api.fail("sendMessage", 429, retry_after=3600, chat_id=outs[0].chat_id)
    async with asyncio.timeout(10):
        deliveries = by_key(await Sender(bot, max_retry_after=1).send_many(outs))
    assert deliveries[0].outcome is Outcome.FAILED and deliveries[0].attempts == 1
    assert deliveries[0].error is not None and "too long" in deliveries[0].error
    assert deliveries[0].retry_after == 3600 and deliveries[1].retry_after is None
    assert_received_exactly(api, outs[1:])


async def test_403_is_blocked_without_retry(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(5)
    api.fail("sendMessage", 403, times=None, chat_id=outs[1].chat_id)
    deliveries = by_key(await Sender(bot).send_many(outs))
    assert deliveries[1].outcome is Outcome.BLOCKED and deliveries[1].attempts == 1
    assert deliveries[1].error is not None and "bot was blocked by the user" in deliveries[1].error
    assert deliveries[1].retry_after is None
    assert len(sends(api, outs[1].chat_id)) == 1
    assert_received_exactly(api, [o for o in outs if o.key != 1])


@pytest.mark.parametrize(
    ("description", "outcome"),
    [
        ("Bad Request: chat not found", Outcome.INVALID),
        ("Bad Request: user is deactivated", Outcome.INVALID),
        ("Bad Request: PEER_ID_INVALID", Outcome.INVALID),
        ('Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 3', Outcome.FAILED),
    ],
)
async def test_400_outcomes(bot: Bot, api: FakeBotAPI, description: str, outcome: Outcome) -> None:
    api.fail("sendMessage", 400, times=None, chat_id=7, description=description)
    delivery = await Sender(bot).send(Outgoing(7, "x"))
    assert (delivery.outcome, delivery.attempts, delivery.message_id) == (outcome, 1, None)
    assert len(sends(api, 7)) == 1


async def test_badly_escaped_html_fails_without_retry(bot: Bot, api: FakeBotAPI) -> None:
    delivery = await Sender(bot).send(Outgoing(7, "价格 <100 元"))  # "<" not escaped
    assert delivery.outcome is Outcome.FAILED and delivery.attempts == 1
    assert delivery.error is not None and "can't parse entities" in delivery.error
    assert api.sent() == []


async def test_502_html_page_is_unknown_and_not_resent(bot: Bot, api: FakeBotAPI) -> None:
    # A proxy's 502 may come after Telegram got the message: at most once means no second try.
    outs = outgoing(4)
    api.fail("sendMessage", 502, times=2, chat_id=outs[1].chat_id)
    deliveries = by_key(await Sender(bot, backoff_base=0.05).send_many(outs))
    assert deliveries[1].outcome is Outcome.UNKNOWN and deliveries[1].attempts == 1
    assert [c.status for c in sends(api, outs[1].chat_id)] == [502]
    assert [d.outcome for k, d in sorted(deliveries.items()) if k != 1] == [Outcome.SENT] * 3


async def test_5xx_is_unknown_after_one_attempt(bot: Bot, api: FakeBotAPI) -> None:
    api.fail("sendMessage", 500, times=None, chat_id=7)
    delivery = await Sender(bot, backoff_base=0.05, max_attempts=3).send(Outgoing(7, "x"))
    assert delivery.outcome is Outcome.UNKNOWN and delivery.attempts == 1
    assert [c.status for c in sends(api, 7)] == [500]


async def test_dropped_connection_is_unknown_and_not_resent(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(4)
    api.drop("sendMessage", times=1, chat_id=outs[2].chat_id)
    deliveries = by_key(await Sender(bot, backoff_base=0.05).send_many(outs))
    assert deliveries[2].outcome is Outcome.UNKNOWN and deliveries[2].attempts == 1
    assert [c.status for c in sends(api, outs[2].chat_id)] == [0]


async def test_timeout_is_unknown_and_not_resent(bot: Bot, api: FakeBotAPI) -> None:
    api.delay("sendMessage", 1.5, chat_id=7)
    delivery = await Sender(bot, backoff_base=0.05, request_timeout=1).send(Outgoing(7, "x"))
    assert delivery.outcome is Outcome.UNKNOWN and delivery.attempts == 1
    assert api.sent(7) == []


async def test_connection_refused_is_retried_then_sent() -> None:
    # Nothing listens on the port at first: the request provably never left, so it is tried again.
    async with FakeBotAPI() as api:
        port = int(api.base_url.rsplit(":", 1)[1])
    server = FakeBotAPI()
    async with server.make_bot() as bot:
        bot.session.api = TelegramAPIServer.from_base(f"http://127.0.0.1:{port}")

        async def come_up() -> None:
            await asyncio.sleep(0.15)
            app_runner = await _serve_on(server, port)
            started.append(app_runner)

        started: list = []
        task = asyncio.create_task(come_up())
        # Up to 20 attempts 0.05-0.2 s apart: seconds of room for a slow machine to start the server.
        sender = Sender(bot, backoff_base=0.1, backoff_max=0.2, max_attempts=20)
        delivery = await sender.send(Outgoing(7, "x"))
        await task
        assert delivery.outcome is Outcome.SENT and delivery.attempts >= 2
        assert len(server.sent(7)) == 1
        await server.close()


async def _serve_on(server: FakeBotAPI, port: int):  # type: ignore[no-untyped-def]
    """Start `server` on a fixed port (the fake picks a free one by default)."""
    await server.start()  # on some port, to set it up; then also listen where the bot looks
    assert server._runner is not None
    site = web.TCPSite(server._runner, "127.0.0.1", port)
    await site.start()
    return site


async def test_under_telegrams_limits_every_message_arrives_once() -> None:
    # Over loopback only what the code guarantees is asserted: each message arrives once (a 429 the
    # server may answer when a loaded machine bunches requests up is waited out). The spacing itself
    # is checked exactly on virtual time (test_virtual_*), where a busy CI machine cannot skew it.
    async with FakeBotAPI(rate_limit_per_second=20, per_chat_interval=0.3) as api, api.make_bot() as bot:
        outs = outgoing(30) + [Outgoing(chat_id=500 + i % 3, text=f"消息 {i}", key=100 + i) for i in range(9)]
        deliveries = by_key(
            await Sender(bot, rate_per_second=20, per_chat_interval=0.3, workers=8).send_many(outs)
        )
        assert all(d.outcome is Outcome.SENT for d in deliveries.values())
        assert set(deliveries) == {o.key for o in outs}
        for chat_id in (500, 501, 502):
            assert sorted(c.params["text"] for c in api.sent(chat_id)) == sorted(
                o.text for o in outs if o.chat_id == chat_id
            )
        assert len(api.sent()) == len(outs)


async def test_mixed_faults_one_delivery_per_outgoing(bot: Bot, api: FakeBotAPI) -> None:
    outs = outgoing(40)
    api.fail("sendMessage", 429, retry_after=1, chat_id=outs[20].chat_id)
    api.fail("sendMessage", 502, chat_id=outs[5].chat_id)
    api.drop("sendMessage", chat_id=outs[33].chat_id)
    api.fail("sendMessage", 403, chat_id=outs[12].chat_id)
    api.fail("sendMessage", 400, chat_id=outs[30].chat_id)
    seen: list[Delivery] = []
    sent_when_reported: list[int] = []

    async def on_delivery(delivery: Delivery) -> None:
        seen.append(delivery)
        sent_when_reported.append(len(api.sent()))

    deliveries = await Sender(bot, backoff_base=0.05).send_many(outs, on_delivery=on_delivery)

    assert seen == deliveries
    outcomes = {key: d.outcome for key, d in by_key(deliveries).items()}
    assert set(outcomes) == set(range(40))
    # The 502 and the dropped connection may have reached Telegram: unknown, never sent twice.
    assert {k: o for k, o in outcomes.items() if o is not Outcome.SENT} == {
        5: Outcome.UNKNOWN,
        12: Outcome.BLOCKED,
        30: Outcome.INVALID,
        33: Outcome.UNKNOWN,
    }
    assert_received_exactly(api, [o for o in outs if o.key not in (5, 12, 30, 33)])
    # Reported as each one finished, not all at the end.
    assert sent_when_reported[0] < 10
    assert (api.injected_faults, api.injected_429s, api.organic_429s) == (5, 1, 0)


async def test_paid_broadcast(bot: Bot, api: FakeBotAPI) -> None:
    with pytest.raises(ValueError, match="paid_broadcast"):
        Sender(bot, rate_per_second=100)
    with pytest.raises(ValueError):
        Sender(bot, rate_per_second=1001, paid_broadcast=True)
    delivery = await Sender(bot, rate_per_second=1000, paid_broadcast=True).send(Outgoing(9, "x"))
    assert delivery.outcome is Outcome.SENT
    assert api.sent(9)[0].params["allow_paid_broadcast"] is True


async def test_on_delivery_error_stops_the_pass(bot: Bot, api: FakeBotAPI) -> None:
    class Boom(Exception):
        pass

    async def on_delivery(delivery: Delivery) -> None:
        raise Boom

    with pytest.raises(Boom):
        await Sender(bot, workers=2).send_many(outgoing(50), on_delivery=on_delivery)
    left = [t for t in asyncio.all_tasks() if "send_many" in t.get_coro().__qualname__]  # type: ignore[union-attr]
    assert left == []  # no worker or producer left behind
    assert len(api.sent()) < 10


# ---------------------------------------------------------------------------- virtual time


class VirtualTime:
    """A clock and sleep for the Sender that jump straight to the next wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(coro)
        while not task.done():
            for _ in range(50):  # let everything that can run, run
                await asyncio.sleep(0)
            if task.done():
                break
            if not self._sleepers:
                task.cancel()
                raise AssertionError("deadlock: nothing runnable and nobody sleeping")
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
        return task.result()


class StubBot:
    """Answers send_message at once; ``script`` lists the errors a chat gets, one per attempt."""

    def __init__(self, time: VirtualTime, script: dict[int, list[Exception]] | None = None) -> None:
        self.time = time
        self.script = script or {}
        self.calls: list[tuple[float, int]] = []

    async def send_message(self, *, chat_id: int, text: str, **kwargs: Any) -> SimpleNamespace:
        self.calls.append((self.time.now, chat_id))
        if self.script.get(chat_id):
            raise self.script[chat_id].pop(0)
        return SimpleNamespace(message_id=len(self.calls))

    async def __call__(self, method: SendMessage, request_timeout: int | None = None) -> SimpleNamespace:
        return await self.send_message(chat_id=int(method.chat_id), text=method.text)


def retry_after(chat_id: int, seconds: int) -> TelegramRetryAfter:
    method = SendMessage(chat_id=chat_id, text="x")
    return TelegramRetryAfter(
        method=method, message=f"Too Many Requests: retry after {seconds}", retry_after=seconds
    )


def server_error(chat_id: int) -> TelegramServerError:
    return TelegramServerError(method=SendMessage(chat_id=chat_id, text="x"), message="Internal Server Error")


def refused(chat_id: int) -> TelegramNetworkError:
    """A connection refused, as aiogram raises it: the request never left."""
    error = TelegramNetworkError(method=SendMessage(chat_id=chat_id, text="x"), message="connect refused")
    error.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return error


def stub_sender(time: VirtualTime, bot: StubBot, **kwargs: Any) -> Sender:
    return Sender(cast(Bot, bot), clock=time.clock, sleep=time.sleep, **kwargs)


async def test_virtual_pacing_and_pause_are_exact() -> None:
    time = VirtualTime()
    bot = StubBot(time, {3: [retry_after(3, 5)]})
    outs = [Outgoing(chat_id=i % 7, text=str(i), key=i) for i in range(40)]
    sender = stub_sender(time, bot, rate_per_second=10, per_chat_interval=1.0, workers=8)

    deliveries = by_key(await time.run(sender.send_many(outs)))

    assert all(d.outcome is Outcome.SENT for d in deliveries.values())
    times = [t for t, _ in bot.calls]
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.1 - 1e-9  # 10/s, never a burst
    for chat_id in range(7):
        chat_times = [t for t, c in bot.calls if c == chat_id]
        assert min(b - a for a, b in itertools.pairwise(chat_times)) >= 1.0 - 1e-9
    flood_at = next(t for t, c in bot.calls if c == 3)
    assert [t for t in times if flood_at < t < flood_at + 5] == []
    assert sum(1 for t in times if t >= flood_at + 5) > 10


async def test_virtual_per_chat_spacing_is_exact() -> None:
    time = VirtualTime()
    bot = StubBot(time)
    outs = [Outgoing(chat_id=500 + i % 3, text=f"消息 {i}", key=i) for i in range(12)]
    sender = stub_sender(time, bot, rate_per_second=25, per_chat_interval=0.3, workers=8)
    deliveries = by_key(await time.run(sender.send_many(outs)))
    assert len(deliveries) == 12
    for chat_id in (500, 501, 502):
        chat_times = [t for t, c in bot.calls if c == chat_id]
        assert len(chat_times) == 4
        assert min(b - a for a, b in itertools.pairwise(chat_times)) >= 0.3 - 1e-9
    # Three chats at 0.3 s each: the twelve fit in about a second, not 12 x 0.3 s one after another.
    assert time.now <= 1.0 + 1e-9


async def test_virtual_backoff_is_bounded() -> None:
    time = VirtualTime()
    bot = StubBot(time, {1: [refused(1) for _ in range(10)]})
    sender = stub_sender(time, bot, max_attempts=4, backoff_base=1.0, backoff_max=2.0)
    delivery = await time.run(sender.send(Outgoing(1, "x")))
    assert delivery.outcome is Outcome.FAILED and delivery.attempts == 4
    # Waits of 0.5-1, 1-2 and 1-2 s (capped at backoff_max), plus 1 s per-chat spacing floors.
    assert 3.0 <= time.now <= 5.0 + 1e-9
    assert len(bot.calls) == 4


async def test_async_source_is_read_a_few_messages_ahead() -> None:
    time = VirtualTime()
    bot = StubBot(time)
    produced = 0
    completed = 0
    lead: list[int] = []

    async def source() -> AsyncIterator[Outgoing]:
        nonlocal produced
        for i in range(200):
            produced += 1
            lead.append(produced - completed)
            yield Outgoing(chat_id=i, text="x", key=i)

    async def on_delivery(delivery: Delivery) -> None:
        nonlocal completed
        completed += 1

    workers = 4
    sender = stub_sender(time, bot, workers=workers)
    deliveries = await time.run(sender.send_many(source(), on_delivery=on_delivery, collect=False))
    assert deliveries == [] and completed == 200
    assert max(lead) <= 2 * workers + 1  # the queue, the messages in hand, one being produced
