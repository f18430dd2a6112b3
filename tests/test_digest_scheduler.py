"""The scheduler: APScheduler's AsyncIOScheduler ticks, each tick runs a pass (never two at once in one
process), and the database keeps it to one digest per streamer and day however often it ticks."""

from __future__ import annotations

import asyncio

from jobs.scheduler import start_scheduler
from tests.fakes import FakeBotAPI
from tests.test_digest_helpers import platform_with_peers, put_user


async def test_ticks_send_each_due_digest_once_and_shutdown_stops(services) -> None:
    async with services.sessionmaker() as session:
        await platform_with_peers(session)
        await put_user(session, 1, timezone="UTC", digest_time="00:00")  # due all day
        await put_user(session, 2, timezone="UTC", digest_time="00:00")
        await put_user(session, 3, timezone="UTC", digest_time="00:00", digest_enabled=False)
        await session.commit()
    async with FakeBotAPI() as api, api.make_bot() as bot:
        scheduler = start_scheduler(bot, services, interval_seconds=0.5)
        try:
            await api.wait_for(lambda c: c.method == "sendMessage" and len(api.sent()) == 2, timeout=20)
            await asyncio.sleep(1.6)  # a few more ticks
            assert scheduler.ticker.passes >= 2
        finally:
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)  # AsyncIOScheduler shuts down on the loop's next turn
        assert not scheduler.scheduler.running
        passes = scheduler.ticker.passes
        await asyncio.sleep(1.0)
        assert scheduler.ticker.passes == passes  # no tick after shutdown
    assert sorted(int(c.chat_id) for c in api.sent()) == [1, 2]
    assert services.sender is not None  # made once and shared (alerts use the same one)
