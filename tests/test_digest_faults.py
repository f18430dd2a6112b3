"""The digest pass through the real aiogram Bot and the shared Sender, against the fake Bot API server on
loopback: 429 mid-pass, a permanent 429, 403, 400, a 502 HTML page, a dropped connection, two
replicas at once. Each test says exactly who got what.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import pytest
from sqlmodel import select

from jobs.digest import run_digest_pass
from jobs.sender import Sender
from storage.tables import DigestDelivery, PickSent, User
from storage.users import register
from tests.fakes import FakeBotAPI
from tests.test_digest_helpers import make_settings, put_user, seed_streamers, utc

STREAMERS = list(range(101, 109))
AT = utc(2026, 11, 24, 1, 0)  # 09:00 in Shanghai
DAY = date(2026, 11, 24)


@pytest.fixture
async def api():
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotAPI):
    async with api.make_bot() as client:
        yield client


@pytest.fixture
async def db(sqlite_db):
    return await seed_streamers(sqlite_db, STREAMERS)


def sender_for(bot, **overrides) -> Sender:
    values = dict(rate_per_second=30, per_chat_interval=1.0, max_attempts=3, backoff_base=0.05, workers=8)
    values.update(overrides)
    return Sender(bot, **values)


async def run(db, bot, sender=None, *, at=AT, **kwargs):
    return await run_digest_pass(
        db.sessionmaker, make_settings(db.url), sender or sender_for(bot), bot=bot, now=at, **kwargs
    )


def received(api: FakeBotAPI) -> Counter[int]:
    """Digests delivered, by chat (answered ok by the server)."""
    got = Counter(int(c.chat_id) for c in api.sent())
    for call in api.sent():
        assert "每日选品推荐" in call.params["text"] and "商品编号" in call.params["text"]
    return got


async def rows(db) -> dict[int, DigestDelivery]:
    async with db.sessionmaker() as session:
        found = (await session.exec(select(DigestDelivery))).all()
    assert len({r.telegram_id for r in found}) == len(found)
    return {int(r.telegram_id): r for r in found}


async def active(db) -> dict[int, bool]:
    async with db.sessionmaker() as session:
        return {int(u.telegram_id): u.active for u in (await session.exec(select(User))).all()}


async def test_everyone_gets_one_digest_with_buttons(db, api, bot) -> None:
    report = await run(db, bot)
    assert received(api) == Counter(dict.fromkeys(STREAMERS, 1))
    assert report.outcomes == Counter({"sent": len(STREAMERS)})
    call = api.sent(101)[0]
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in keyboard[0]] == ["1. 详情", "1. 不感兴趣"] and keyboard[-1][0][
        "text"
    ] == "🔄 换一批"
    by_user = await rows(db)
    assert {r.status for r in by_user.values()} == {"sent"}
    assert by_user[101].message_id == call.result["message_id"] and by_user[101].attempts == 1
    async with db.sessionmaker() as session:
        recorded = (await session.exec(select(PickSent.sku).where(PickSent.telegram_id == 101))).all()
    assert sorted(recorded) == sorted(by_user[101].skus.split(";"))


async def test_429_with_retry_after_3_mid_pass_pauses_everyone_then_delivers_once(db, api, bot) -> None:
    api.fail("sendMessage", 429, retry_after=3, times=1, chat_id=104)
    report = await run(db, bot)
    assert received(api) == Counter(dict.fromkeys(STREAMERS, 1))
    assert report.outcomes == Counter({"sent": len(STREAMERS)}) and not report.stopped
    [refused] = [c for c in api.calls_to("sendMessage") if c.status == 429]
    # Requests other workers had already let go may land during the pause (one per worker at most,
    # however slow the machine); nothing else until retry_after has passed.
    after = [c.at - refused.at for c in api.calls_to("sendMessage") if c.at > refused.at]
    assert after and len([gap for gap in after if gap < 2.9]) <= 7, after
    assert (await rows(db))[104].attempts == 2
    assert api.organic_429s == 0


async def test_a_permanent_429_sends_nothing_and_keeps_every_row_for_later(db, api, bot) -> None:
    api.fail("sendMessage", 429, retry_after=1, times=None)
    report = await run(db, bot, sender_for(bot, max_attempts=2), workers=2)
    assert received(api) == Counter()
    assert report.stopped and "429" in report.stopped and report.outcomes["sent"] == 0
    by_user = await rows(db)
    assert {r.status for r in by_user.values()} == {"pending"}
    assert {r.claimed_by for r in by_user.values()} == {None}
    assert all(await active(db))
    # The flood is over: the next pass sends each digest once.
    api.clear_faults()
    await run(db, bot, at=utc(2026, 11, 24, 1, 1))
    assert received(api) == Counter(dict.fromkeys(STREAMERS, 1))


async def test_403_marks_the_streamer_inactive_until_they_start_again(db, api, bot) -> None:
    api.fail("sendMessage", 403, times=None, chat_id=103)
    report = await run(db, bot)
    assert received(api) == Counter({i: 1 for i in STREAMERS if i != 103})
    assert report.outcomes == Counter({"sent": 7, "blocked": 1})
    assert len(api.calls_to("sendMessage")) == len(STREAMERS)  # a 403 is not retried
    assert (await rows(db))[103].status == "blocked"
    assert (await active(db))[103] is False
    async with db.sessionmaker() as session:
        assert (await session.exec(select(PickSent).where(PickSent.telegram_id == 103))).all() == []

    # Tomorrow: still nothing for them (not even a request).
    api.clear_faults()
    await run(db, bot, at=utc(2026, 11, 25, 1, 0))
    assert not api.sent(103) and len(api.calls_to("sendMessage")) == 2 * len(STREAMERS) - 1
    # They /start again: the day after, they get it.
    async with db.sessionmaker() as session:
        _user, was_inactive = await register(103, name="back", username=None, language="zh", session=session)
        await session.commit()
    assert was_inactive
    await run(db, bot, at=utc(2026, 11, 26, 1, 0))
    assert len(api.sent(103)) == 1


async def test_400_chat_not_found_is_invalid(db, api, bot) -> None:
    api.fail("sendMessage", 400, times=None, chat_id=105)
    report = await run(db, bot)
    assert received(api) == Counter({i: 1 for i in STREAMERS if i != 105})
    assert report.outcomes == Counter({"sent": 7, "invalid": 1})
    row = (await rows(db))[105]
    assert row.status == "invalid" and "chat not found" in (row.error or "")
    assert (await active(db))[105] is False


async def test_502_with_an_html_page_is_unknown_and_never_resent(db, api, bot) -> None:
    # A proxy's 502 may come after Telegram took the message: the row is `unknown`, not re-sent.
    api.fail("sendMessage", 502, times=2, chat_id=102)
    report = await run(db, bot)
    assert received(api) == Counter({i: 1 for i in STREAMERS if i != 102})
    assert [c.status for c in api.calls_to("sendMessage") if c.chat_id == 102] == [502]
    assert report.outcomes == Counter({"sent": len(STREAMERS) - 1, "unknown": 1})
    assert (await rows(db))[102].status == "unknown"


async def test_a_reset_after_the_server_took_the_digest_is_not_resent(db, api, bot) -> None:
    api.drop("sendMessage", times=1, chat_id=106)
    report = await run(db, bot)
    assert [c.status for c in api.calls_to("sendMessage") if c.chat_id == 106] == [0]
    assert report.outcomes == Counter({"sent": len(STREAMERS) - 1, "unknown": 1})
    row = (await rows(db))[106]
    assert row.status == "unknown" and row.attempts == 1
    # Later passes the same day leave it alone: at most once.
    await run(db, bot, at=utc(2026, 11, 24, 1, 5))
    assert [c.status for c in api.calls_to("sendMessage") if c.chat_id == 106] == [0]


async def test_two_replicas_at_once_send_one_message_per_streamer(db, api) -> None:
    more = list(range(200, 240))
    async with db.sessionmaker() as session:
        for telegram_id in more:
            await put_user(session, telegram_id)
        await session.commit()
    async with api.make_bot() as bot_a, api.make_bot() as bot_b:
        reports = await asyncio.gather(
            run(db, bot_a, sender_for(bot_a, rate_per_second=15), batch=4),
            run(db, bot_b, sender_for(bot_b, rate_per_second=15), batch=4),
        )
    everyone = STREAMERS + more
    assert received(api) == Counter(dict.fromkeys(everyone, 1))
    assert sum(r.outcomes["sent"] for r in reports) == len(everyone)
    assert all(r.outcomes["sent"] > 0 for r in reports)  # both replicas really worked
    assert {r.status for r in (await rows(db)).values()} == {"sent"}


async def test_a_row_is_sending_only_while_its_request_is_on_the_wire(db, api, bot) -> None:
    api.delay("sendMessage", seconds=1.0, times=1, chat_id=101)
    task = asyncio.create_task(run(db, bot, workers=1))
    seen: dict[int, str] = {}
    for _ in range(100):
        seen = {i: r.status for i, r in (await rows(db)).items()}
        if seen.get(101) == "sending":
            break
        await asyncio.sleep(0.02)
    # 101's request is held by the server: it alone is `sending`; the rest wait as claimed `pending`.
    assert seen == {101: "sending", **{i: "pending" for i in STREAMERS if i != 101}}
    report = await task
    assert report.outcomes == Counter({"sent": len(STREAMERS)})
    assert received(api) == Counter(dict.fromkeys(STREAMERS, 1))
