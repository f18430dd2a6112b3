"""The one outbound path under load and faults, end to end: the real polling bot and the real digest
pass over HTTP, against the fake Bot API enforcing Telegram's limits (30 messages/s, 1/s per chat)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from sqlmodel import select

from bot.dispatcher import build_dispatcher
from bot.i18n import t
from bot.outbound import Budget, LocalLimiter
from bot.services import Services, build_bot
from jobs.digest import run_digest_pass
from jobs.sender import Sender
from storage.tables import DigestDelivery
from tests.factories import import_rows, product_row
from tests.fakes.bot_api import Call, FakeBotAPI
from tests.test_digest_helpers import make_settings, seed_streamers, utc

TOKEN = "123456:TEST-outbound-load"
SORRY = t("error.internal", "zh")


@contextlib.asynccontextmanager
async def polling(api: FakeBotAPI, services: Services) -> AsyncIterator[None]:
    """The bot as `python -m bot run` makes it: the outbound limiter on its session, long polling."""
    bot = build_bot(TOKEN, api_url=api.base_url, limiter=LocalLimiter(Budget.for_rate(25)))
    dp = build_dispatcher(services)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        yield
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, 10)
        await bot.session.close()


async def until(done: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 - the fake server has no event for "n replies so far"
            await asyncio.sleep(0.05)


def replies(api: FakeBotAPI) -> list[Call]:
    return [c for c in api.calls_to("sendMessage") if c.ok]


async def test_two_hundred_users_searching_at_once_are_all_answered(services) -> None:
    await import_rows(services, [product_row(f"YG-{i:03d}", f"云朵美白牙膏 {i}号") for i in range(1, 8)])
    users = range(50_000, 50_200)
    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1) as api, polling(api, services):
        for user in users:
            api.message(user, "牙膏")
        # 200 replies at the budget's 25/s take 8 s; the bound leaves room for a slow machine.
        await until(lambda: len({c.chat_id for c in replies(api)}) >= len(users), timeout=60)
        got = Counter(int(c.chat_id) for c in replies(api))
        texts = [c.result["text"] if c.ok else c.params["text"] for c in api.calls_to("sendMessage")]
    assert got == Counter(dict.fromkeys(users, 1))  # every one answered, once
    assert all(text.startswith("🔎 牙膏") and "共 7 件" in text for text in texts)
    assert not [text for text in texts if SORRY in text]


async def test_a_refused_connection_is_retried_and_the_digest_sent_once(sqlite_db) -> None:
    db = await seed_streamers(sqlite_db, [101, 102])
    async with FakeBotAPI() as probe:  # a free port, closed again: connecting to it is refused
        port = int(probe.base_url.rsplit(":", 1)[1])
    server = FakeBotAPI()
    bot = build_bot(TOKEN, api_url=f"http://127.0.0.1:{port}", limiter=LocalLimiter())

    async def come_up_after_a_refusal() -> None:
        # The wire guard writes "never left" on the row once a request was refused: only then start.
        while True:
            async with db.sessionmaker() as session:
                rows = (await session.exec(select(DigestDelivery))).all()
            if any((r.error or "").startswith("never left") for r in rows):
                break
            await asyncio.sleep(0.02)
        await server.start()
        assert server._runner is not None
        await web.TCPSite(server._runner, "127.0.0.1", port).start()

    try:
        starter = asyncio.create_task(come_up_after_a_refusal())
        report = await run_digest_pass(
            db.sessionmaker,
            make_settings(db.url),
            Sender(bot, max_attempts=5, backoff_base=0.1),
            bot=bot,
            now=utc(2026, 11, 24, 1, 0),
        )
        await asyncio.wait_for(starter, 5)
        got = Counter(int(c.chat_id) for c in server.sent())
    finally:
        await bot.session.close()
        await server.close()
    assert got == Counter({101: 1, 102: 1})
    assert report.outcomes == Counter({"sent": 2})
    async with db.sessionmaker() as session:
        rows = {int(r.telegram_id): r for r in (await session.exec(select(DigestDelivery))).all()}
    assert {r.status for r in rows.values()} == {"sent"}
    assert max(r.attempts for r in rows.values()) >= 2  # the refused request was counted, then retried
