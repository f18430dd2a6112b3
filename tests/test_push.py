"""Targeted recommendations (官方小二定向推荐): /push through the dispatcher, the push pass against the
fake Bot API (rate limits on), and `python -m bot push` as a child process on that server.

Streamers (the peers of `platform_with_peers` sell 美妆个护 60% / 食品饮料 30% / 家居百货 10%):
FOOD sells only 食品饮料 (a gap in 美妆个护), BEAUTY sells only 美妆个护 (it is in their mix; no gap
there), NEW has no data (every category is a gap), OFF turned digests off, GONE blocked the bot.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import date

import pytest
from aiogram.methods import SendMessage
from sqlmodel import select

from bot.picks import picks_context, picks_for
from bot.push import PushCb, plan_push, segment_recipients
from core.push import Audience, Segment
from jobs.push import confirm, run_push
from jobs.sender import Sender
from storage import push as pushes
from storage.tables import PickSent, Push, PushDelivery, User
from tests.conftest import ADMIN_ID
from tests.fakes import FakeBotAPI
from tests.harness import assert_valid_html, buttons, plain, texts
from tests.processes import bot_env, died
from tests.test_digest_helpers import make_settings, platform_with_peers, put_sales, put_user

FOOD, BEAUTY, NEW, OFF, GONE = 401, 402, 403, 404, 405
TOKEN = "123456:TEST-token-for-the-fake-server"


async def seed(database) -> None:
    async with database.sessionmaker() as session:
        await platform_with_peers(session)
        await put_sales(session, FOOD, {"食品饮料": 100_000})
        await put_sales(session, BEAUTY, {"美妆个护": 100_000})
        for telegram_id in (FOOD, BEAUTY, NEW):
            await put_user(session, telegram_id)
        await put_user(session, OFF, digest_enabled=False)
        await put_user(session, GONE, active=False)
        await session.commit()


async def delivery_rows(database) -> dict[int, PushDelivery]:
    async with database.sessionmaker() as session:
        found = (await session.exec(select(PushDelivery))).all()
    return {int(r.telegram_id): r for r in found}


# --------------------------------------------------------------------------- the segment


async def test_a_gap_segment_is_exactly_the_streamers_whose_picks_show_that_gap(sqlite_db) -> None:
    await seed(sqlite_db)
    settings = make_settings(sqlite_db.url)
    with_gap = set()
    for telegram_id in (FOOD, BEAUTY, NEW):
        result = await picks_for(sqlite_db.sessionmaker, settings, telegram_id)
        if "美妆个护" in {g["category"] for g in result.as_json()["gaps"]}:
            with_gap.add(telegram_id)
    assert with_gap == {FOOD, NEW}

    context = await picks_context(sqlite_db.sessionmaker)
    async with sqlite_db.sessionmaker() as session:
        gap = await segment_recipients(session, context, Segment(Audience.GAP, "美妆个护"))
        mix = await segment_recipients(session, context, Segment(Audience.MIX, "美妆个护"))
        everyone = await segment_recipients(session, context, Segment())
    assert set(gap) == with_gap
    assert set(mix) == {BEAUTY}
    assert set(everyone) == {FOOD, BEAUTY, NEW}  # digests off and blocked streamers are nobody's segment


# --------------------------------------------------------------------------- /push in chat


@pytest.fixture
async def seeded(chat, services):
    await seed(services)
    return chat


def sent_to(requests, chat_id: int) -> list:
    return [r for r in requests if isinstance(r, SendMessage) and r.chat_id == chat_id]  # ForIds too


async def test_push_preview_count_then_confirm_reaches_the_segment_once(seeded, services) -> None:
    chat = seeded
    replies = await chat.message(ADMIN_ID, "/push BEAUTY-L5-A,FOOD-L4-A gap=美妆个护")
    [preview] = sent_to(replies, ADMIN_ID)
    text = plain(preview.text)
    assert_valid_html(preview.text)
    assert "将发给 2 位主播" in text and "在「美妆个护」有品类缺口的主播" in text
    assert "BEAUTY-L5-A" in text and "FOOD-L4-A" in text
    assert not sent_to(replies, FOOD) and not sent_to(replies, NEW)  # a preview sends nothing
    labels = [label for label, _data in buttons(preview)]
    assert labels == ["✅ 确认发送", "✖️ 取消"]
    confirm = buttons(preview)[0][1]
    assert confirm is not None

    done = await chat.callback(ADMIN_ID, confirm)
    got = {chat_id: sent_to(done, chat_id) for chat_id in (FOOD, BEAUTY, NEW, OFF, GONE)}
    assert {k: len(v) for k, v in got.items()} == {FOOD: 1, BEAUTY: 0, NEW: 1, OFF: 0, GONE: 0}
    message = got[FOOD][0]
    assert "官方小二精选推荐" in message.text and "BEAUTY-L5-A" in message.text
    assert_valid_html(message.text)
    assert [label for label, _ in buttons(message)] == [
        "1. 详情",
        "1. 不感兴趣",
        "2. 详情",
        "2. 不感兴趣",
        "🔄 换一批",
    ]
    report = plain(texts(sent_to(done, ADMIN_ID))[-1])
    assert "对象 2 位" in report and "本次送达 2 位" in report
    # Recorded as shown, so the next digest does not repeat the goods.
    async with services.sessionmaker() as session:
        shown = (await session.exec(select(PickSent.sku).where(PickSent.telegram_id == FOOD))).all()
    assert sorted(shown) == ["BEAUTY-L5-A", "FOOD-L4-A"]

    # The same push again (goods in another order): the preview says so, and confirming sends nothing new.
    again = await chat.message(ADMIN_ID, "/push FOOD-L4-A BEAUTY-L5-A gap=美妆个护")
    [preview2] = sent_to(again, ADMIN_ID)
    assert "已送达 2 / 2 位" in plain(preview2.text)
    assert buttons(preview2)[0][1] == confirm
    repeat = await chat.callback(ADMIN_ID, confirm)
    assert not sent_to(repeat, FOOD) and not sent_to(repeat, NEW)
    assert "本次送达 0 位" in plain(texts(sent_to(repeat, ADMIN_ID))[-1])


async def test_a_forged_confirm_from_a_non_admin_sends_nothing(seeded, services) -> None:
    chat = seeded
    await chat.message(FOOD, "/start")
    preview = sent_to(await chat.message(ADMIN_ID, "/push BEAUTY-L5-A"), ADMIN_ID)[0]
    confirm = buttons(preview)[0][1]
    assert confirm is not None
    forged = await chat.callback(FOOD, confirm)
    assert not [r for r in forged if isinstance(r, SendMessage)]
    [answer] = [r for r in forged if type(r).__name__ == "AnswerCallbackQuery"]
    assert answer.show_alert and "管理员" in answer.text
    assert await delivery_rows(services) == {}
    async with services.sessionmaker() as session:
        push = await pushes.get_push(PushCb.unpack(confirm).id, session=session)
    assert push is not None and not push.confirmed
    # A non-admin's /push is refused too.
    refused = texts(await chat.message(FOOD, "/push BEAUTY-L5-A"))
    assert len(refused) == 1 and "管理员" in refused[0]


async def test_cancel_sends_nothing_and_bad_input_is_refused_with_the_reason(seeded, services) -> None:
    chat = seeded
    preview = sent_to(await chat.message(ADMIN_ID, "/push BEAUTY-L5-A mix=美妆个护", lang="en"), ADMIN_ID)[0]
    assert "It goes to 1 streamers" in plain(preview.text) and "streamers who sell “美妆个护”" in plain(
        preview.text
    )
    cancel = buttons(preview)[1][1]
    assert cancel is not None
    cancelled = await chat.callback(ADMIN_ID, cancel, lang="en")
    assert texts(sent_to(cancelled, ADMIN_ID)) == ["Cancelled; nothing was sent."]
    assert not sent_to(cancelled, BEAUTY) and await delivery_rows(services) == {}

    async def reply(text: str) -> str:
        return plain(texts(await chat.message(ADMIN_ID, text))[0])

    assert "BEAUTY-L3 是 L3" in await reply("/push BEAUTY-L3")
    assert "没有商品编号为 NOPE 的商品" in await reply("/push NOPE,BEAUTY-L5-A")
    assert "最多推荐 5 个商品，你写了 6 个" in await reply("/push A,B,C,D,E,F")
    assert "没有「宠物」这个品类" in await reply("/push BEAUTY-L5-A gap=宠物")
    assert "看不懂「who=美妆个护」" in await reply("/push BEAUTY-L5-A who=美妆个护")
    assert "用法" in await reply("/push")
    assert await delivery_rows(services) == {}


async def test_help_lists_push_for_admins_only(seeded) -> None:
    chat = seeded
    assert "/push" in "\n".join(texts(await chat.message(ADMIN_ID, "/help")))
    assert "/push" not in "\n".join(texts(await chat.message(FOOD, "/help")))


# --------------------------------------------------------------------------- the pass on the wire


@pytest.fixture
async def api():
    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as server:
        yield server


async def make_push(database, skus, segment) -> int:

    context = await picks_context(database.sessionmaker)
    async with database.sessionmaker() as session:
        plan = await plan_push(session, context, skus, segment, created_by=ADMIN_ID)
        await session.commit()
    return plan.push.id


async def test_the_pass_reaches_each_streamer_once_marks_403_blocked_and_reruns_send_nothing(
    sqlite_db, api
) -> None:

    await seed(sqlite_db)
    async with sqlite_db.sessionmaker() as session:  # 60 more streamers, to meet the global limit
        for telegram_id in range(1000, 1060):
            await put_user(session, telegram_id)
        await session.commit()
    api.fail("sendMessage", 403, times=None, chat_id=NEW)
    settings = make_settings(sqlite_db.url)
    push_id = await make_push(sqlite_db, ["HOME-L5-A"], Segment())
    async with api.make_bot() as bot:
        sender = Sender(bot, rate_per_second=25, per_chat_interval=1.0, max_attempts=3, backoff_base=0.05)
        first = await run_push(sqlite_db.sessionmaker, settings, sender, push_id, bot=bot)
        # The same push again: its recipients were fixed at the first run, every row is final.
        second = await run_push(sqlite_db.sessionmaker, settings, sender, push_id, bot=bot)
    got = Counter(int(c.chat_id) for c in api.sent())
    expected = {FOOD, BEAUTY, *range(1000, 1060)}
    assert set(got) == expected and set(got.values()) == {1}
    assert api.organic_429s == 0
    assert first.recipients == second.recipients == len(expected) + 1  # NEW is a recipient who blocked us
    assert first.sent == len(expected) and second.sent == 0
    rows = await delivery_rows(sqlite_db)
    assert rows[NEW].status == "blocked" and rows[FOOD].status == "sent" and rows[FOOD].message_id
    async with sqlite_db.sessionmaker() as session:
        assert (await session.get(User, NEW)).active is False  # no more messages until /start


async def test_a_streamer_who_turns_digests_off_before_the_send_is_skipped(sqlite_db, api) -> None:

    await seed(sqlite_db)
    settings = make_settings(sqlite_db.url)
    push_id = await make_push(sqlite_db, ["BEAUTY-L4-A"], Segment(Audience.GAP, "美妆个护"))
    assert await confirm(sqlite_db.sessionmaker, settings, push_id)
    assert not await confirm(sqlite_db.sessionmaker, settings, push_id)  # once
    async with sqlite_db.sessionmaker() as session:
        user = await session.get(User, FOOD)
        user.digest_enabled = False
        await session.commit()
    async with api.make_bot() as bot:
        result = await run_push(
            sqlite_db.sessionmaker, settings, Sender(bot, rate_per_second=25), push_id, bot=bot
        )
    assert {int(c.chat_id) for c in api.sent()} == {NEW}
    assert result.recipients == 2 and result.sent == 1
    assert (await delivery_rows(sqlite_db))[FOOD].status == "skipped"


async def test_push_rows_on_both_databases_are_unique_per_streamer_and_push(db) -> None:

    async with db.sessionmaker() as session:
        await put_user(session, FOOD)
        await put_user(session, BEAUTY)
        first = await pushes.get_or_create_push(["A", "B"], Segment(), created_by=None, session=session)
        same = await pushes.get_or_create_push(["B", "A"], Segment(), created_by=None, session=session)
        assert first.id == same.id and first.skus == ("A", "B")
        assert await pushes.confirm_push(
            first.id,
            [FOOD, BEAUTY, FOOD],
            local_date=date(2026, 11, 29),
            session=session,
        )
        assert not await pushes.confirm_push(first.id, [FOOD], local_date=date(2026, 11, 29), session=session)
        await session.commit()
        assert await pushes.push_counts(first.id, session=session) == {"pending": 2}


# --------------------------------------------------------------------------- python -m bot push


async def cli_push(db_url: str, api: FakeBotAPI, tmp_path, *args: str) -> dict:
    env = bot_env(DATABASE_URL=db_url, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url, DIGEST_RATE="25")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "push", *args, "--json",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, died(proc.returncode, err)
    return json.loads(out)


async def test_cli_push_json_dry_run_then_send_then_the_same_push_sends_nothing(
    sqlite_db, api, tmp_path
) -> None:
    await seed(sqlite_db)
    args = ("--skus", "BEAUTY-L5-A,HOME-L4-A", "--gap-category", "美妆个护")
    assert await cli_push(sqlite_db.url, api, tmp_path, *args, "--dry-run") == {"recipients": 2, "sent": 0}
    assert api.sent() == []
    async with sqlite_db.sessionmaker() as session:
        assert (await session.exec(select(Push))).all() == []  # a dry run writes nothing
    assert await cli_push(sqlite_db.url, api, tmp_path, *args) == {"recipients": 2, "sent": 2}
    assert Counter(int(c.chat_id) for c in api.sent()) == Counter({FOOD: 1, NEW: 1})
    assert "官方小二精选推荐" in api.sent(FOOD)[0].params["text"]
    again = ("--skus", "HOME-L4-A,BEAUTY-L5-A", "--gap-category", "美妆个护")
    assert await cli_push(sqlite_db.url, api, tmp_path, *again) == {"recipients": 2, "sent": 0}
    assert await cli_push(sqlite_db.url, api, tmp_path, *again, "--dry-run") == {"recipients": 2, "sent": 0}
    assert len(api.sent()) == 2
    # Without a segment: everyone with digests on is another push.
    assert await cli_push(sqlite_db.url, api, tmp_path, "--skus", "BEAUTY-L5-A") == {
        "recipients": 3,
        "sent": 3,
    }


async def test_digest_status_shows_each_push_and_its_rows_of_unknown_fate(sqlite_db, api, tmp_path) -> None:
    """A 502 may come after Telegram took the message: that row is `unknown`, never re-sent, and the
    operator finds it with `python -m bot digest status`, as the digest's own."""
    await seed(sqlite_db)
    api.fail("sendMessage", 502, times=2, chat_id=NEW)
    sent = await cli_push(sqlite_db.url, api, tmp_path, "--skus", "BEAUTY-L5-A")
    assert sent == {"recipients": 3, "sent": 2}
    rows = await delivery_rows(sqlite_db)
    assert rows[NEW].status == "unknown" and rows[FOOD].status == "sent"
    env = bot_env(DATABASE_URL=sqlite_db.url, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "digest", "status",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, died(proc.returncode, err)
    lines = out.decode().splitlines()
    assert f"push #{rows[NEW].push_id} (BEAUTY-L5-A): sent 2, unknown 1" in lines
    assert any(line.startswith(f"  unknown: telegram_id {NEW} attempts 1") for line in lines), lines
    assert not any(str(FOOD) in line for line in lines)  # delivered rows are counted, not listed


async def test_cli_push_refuses_goods_below_l4_with_the_reason(sqlite_db, api, tmp_path) -> None:
    await seed(sqlite_db)
    env = bot_env(DATABASE_URL=sqlite_db.url, BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.base_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "push", "--skus", "FOOD-L3", "--json",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 1 and "FOOD-L3 is L3: only L4 and above can be pushed" in err.decode()
    assert api.sent() == []


async def test_a_flood_leaves_the_rows_pending_and_the_same_push_later_finishes_them(sqlite_db, api) -> None:
    await seed(sqlite_db)
    settings = make_settings(sqlite_db.url)
    push_id = await make_push(sqlite_db, ["FOOD-L5-A"], Segment())
    api.fail("sendMessage", 429, retry_after=1, times=None)
    async with api.make_bot() as bot:
        sender = Sender(bot, rate_per_second=25, max_attempts=2, backoff_base=0.05)
        flooded = await run_push(sqlite_db.sessionmaker, settings, sender, push_id, bot=bot, workers=2)
        assert flooded.sent == 0 and flooded.report.stopped and "429" in flooded.report.stopped
        rows = await delivery_rows(sqlite_db)
        assert {r.status for r in rows.values()} == {"pending"} and {r.claimed_by for r in rows.values()} == {
            None
        }
        api.clear_faults()
        later = await run_push(sqlite_db.sessionmaker, settings, sender, push_id, bot=bot)
    assert later.recipients == 3 and later.sent == 3
    assert Counter(int(c.chat_id) for c in api.sent()) == Counter({FOOD: 1, BEAUTY: 1, NEW: 1})
