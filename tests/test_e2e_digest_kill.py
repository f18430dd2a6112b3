"""Crashes: `python -m bot digest send` killed (SIGKILL) after N of M sends, then restarted, sends exactly
the M−N others; a pass cut while a request is on the wire never re-sends that one (its fate is
unknown), and says so in the row.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlmodel import select

from jobs.digest import run_digest_pass
from jobs.sender import Sender
from storage.tables import DigestDelivery, utcnow
from tests.fakes import FakeBotAPI
from tests.processes import bot_env, died, unless_it_dies
from tests.test_digest_helpers import make_settings, seed_streamers

DAY = date(2026, 11, 24)
M = 12
STREAMERS = list(range(301, 301 + M))
TOKEN = "123456:TEST-token-for-the-fake-server"


@pytest.fixture
async def db(sqlite_db):
    return await seed_streamers(sqlite_db, STREAMERS)


async def statuses(db) -> dict[int, str]:
    async with db.sessionmaker() as session:
        return {int(r.telegram_id): r.status for r in (await session.exec(select(DigestDelivery))).all()}


def delivered(api: FakeBotAPI) -> Counter[int]:
    return Counter(int(c.chat_id) for c in api.sent())


async def digest_send(db, api: FakeBotAPI, tmp_path) -> asyncio.subprocess.Process:
    env = bot_env(
        DATABASE_URL=db.url,
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DIGEST_RATE="30",
        DEFAULT_TIMEZONE="Asia/Shanghai",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "digest", "send", "--date", DAY.isoformat(),
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_killed_after_n_of_m_then_restarted_sends_exactly_m_minus_n(db, tmp_path) -> None:
    async with FakeBotAPI() as api:
        # The 6th streamer's first request is refused with a long flood wait: every worker of the
        # process pauses, and we kill it there (its rows are claimed, none is on the wire).
        api.fail("sendMessage", 429, retry_after=60, times=1, chat_id=STREAMERS[5])
        proc = await digest_send(db, api, tmp_path)
        try:
            await unless_it_dies(proc, api.wait_for(lambda c: c.status == 429, timeout=90))
            await asyncio.sleep(0.5)  # let requests already on their way land
            n = len(api.sent())
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == -signal.SIGKILL, died(proc.returncode, await proc.stderr.read())
        before = delivered(api)
        assert 0 < n < M and sum(before.values()) == n and set(before.values()) == {1}
        rows = await statuses(db)
        assert Counter(rows.values()) == Counter({"sent": n, "pending": M - n})  # nothing left `sending`
        assert rows[STREAMERS[5]] == "pending"

        # Restart (once the dead process's claims have lapsed): exactly the M−N others.
        async with api.make_bot() as bot:
            sender = Sender(bot, rate_per_second=30, backoff_base=0.05)
            report = await run_digest_pass(db.sessionmaker, make_settings(db.url), sender, bot=bot,
                                           now=utcnow() + timedelta(minutes=3), on_date=DAY)  # fmt: skip
        assert report.outcomes["sent"] == M - n
        assert delivered(api) == Counter(dict.fromkeys(STREAMERS, 1))
        assert set((await statuses(db)).values()) == {"sent"}

        # And the real command again: nothing more to send.
        proc = await digest_send(db, api, tmp_path)
        out, err = await proc.communicate()
        assert proc.returncode == 0, died(proc.returncode, err)
        assert "sent 0" in out.decode()
        assert delivered(api) == Counter(dict.fromkeys(STREAMERS, 1))


async def test_a_request_cut_on_the_wire_is_never_sent_twice(db) -> None:
    settings = make_settings(db.url)
    first = STREAMERS[0]
    async with FakeBotAPI() as api, api.make_bot() as bot:
        api.delay("sendMessage", seconds=3.0, times=1, chat_id=first)
        sender = Sender(bot, rate_per_second=30, backoff_base=0.05)
        task = asyncio.create_task(
            run_digest_pass(db.sessionmaker, settings, sender, bot=bot, on_date=DAY, workers=1)
        )
        for _ in range(200):
            if (await statuses(db)).get(first) == "sending":
                break
            await asyncio.sleep(0.02)
        task.cancel()  # the process stops while that request is on the wire
        with pytest.raises(asyncio.CancelledError):
            await task
        rows = await statuses(db)
        assert rows[first] == "sending" and Counter(rows.values())["pending"] == M - 1

        # A pass right away sends everyone else and leaves the unknown one alone...
        await run_digest_pass(
            db.sessionmaker, settings, Sender(bot, rate_per_second=30), bot=bot, on_date=DAY
        )
        # ...and one after the stale limit marks it unknown, still without sending it.
        report = await run_digest_pass(db.sessionmaker, settings, Sender(bot, rate_per_second=30), bot=bot,
                                       now=utcnow() + timedelta(minutes=11), on_date=DAY)  # fmt: skip
        assert report.stale == 1
        await asyncio.sleep(3.2)  # the held request ends (its client hung up: no effect)
    assert delivered(api) == Counter({i: 1 for i in STREAMERS if i != first})
    async with db.sessionmaker() as session:
        row = (await session.exec(select(DigestDelivery).where(DigestDelivery.telegram_id == first))).one()
    assert row.status == "unknown" and "outcome unknown" in (row.error or "")
