"""Samples (寄样): the states, who may move them, limits and rules, through the dispatcher and the pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage
from sqlmodel import select

from bot.cli import main
from bot.samples import SampleCb
from core.samples import Action, Due, Party, Status, allowed, check_rule, due
from jobs.samples import run_sample_pass
from storage import samples
from storage.engine import open_database
from storage.migrate import upgrade_sync
from storage.tables import Category, Product, SampleRequest, Streamer, StreamerSale, User
from tests.factories import MIDDLING, add_product, bind_merchant
from tests.harness import assert_valid_html, buttons, texts

STREAMER, MERCHANT, RIVAL, STRANGER, MERCHANT_2 = 111, 222, 333, 444, 223
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


# --------------------------------------------------------------------------- core


def test_only_the_right_party_moves_from_the_right_state() -> None:
    assert allowed(Action.APPROVE, Status.REQUESTED, Party.MERCHANT)
    assert not allowed(Action.APPROVE, Status.REQUESTED, Party.STREAMER)
    assert not allowed(Action.APPROVE, Status.APPROVED, Party.MERCHANT)  # a replayed 同意
    assert allowed(Action.SHIP, Status.APPROVED, Party.MERCHANT)
    assert not allowed(Action.SHIP, Status.REQUESTED, Party.MERCHANT)  # ship before approving: no
    assert allowed(Action.RECEIVE, Status.SHIPPED, Party.STREAMER)
    assert not allowed(Action.RECEIVE, Status.SHIPPED, Party.MERCHANT)
    assert allowed(Action.CANCEL, Status.APPROVED, Party.STREAMER)
    assert not allowed(Action.CANCEL, Status.SHIPPED, Party.STREAMER)  # it is on its way
    for final in (Status.REJECTED, Status.RECEIVED, Status.CANCELLED, Status.EXPIRED):
        assert not any(allowed(a, final, p) for a in Action for p in Party)


def test_a_wait_is_reminded_before_it_expires() -> None:
    kw = dict(remind_after=timedelta(hours=48), expire_after=timedelta(hours=120))
    assert due("requested", T0, False, T0 + timedelta(hours=47), **kw) is None
    assert due("requested", T0, False, T0 + timedelta(hours=48), **kw) == Due.REMIND
    assert due("requested", T0, False, T0 + timedelta(hours=500), **kw) == Due.REMIND  # never unreminded
    assert due("approved", T0, True, T0 + timedelta(hours=119), **kw) is None
    assert due("shipped", T0, True, T0 + timedelta(hours=120), **kw) == Due.EXPIRE
    assert due("received", T0, False, T0 + timedelta(hours=500), **kw) is None


def test_a_rule_is_met_at_its_minimum() -> None:
    assert check_rule(None, 0).ok and check_rule(50_000, 50_000).ok
    refused = check_rule(50_000, 49_999.5)
    assert not refused.ok and (refused.needed, refused.have) == (50_000, 49_999.5)


# --------------------------------------------------------------------------- storage (SQLite and PostgreSQL)


async def _seed(session, *, streamer_gmv: float | None = None) -> int:
    product = await add_product(session, "SKU-1", title="测试 <面霜>", category="美妆个护", merchant="M-A")
    await add_product(session, "SKU-2", category="美妆个护", merchant="M-A")
    await add_product(session, "SKU-B", category="食品饮料", merchant="M-B")
    await bind_merchant(session, MERCHANT, "M-A")
    await bind_merchant(session, RIVAL, "M-B")
    session.add(User(telegram_id=STREAMER, name="小红 <主播>"))
    if streamer_gmv is not None:
        session.add(Streamer(telegram_id=STREAMER, name="小红"))
        await session.flush()
        cat = (await session.exec(select(Category).where(Category.name == "美妆个护"))).one()
        session.add(StreamerSale(telegram_id=STREAMER, category_id=cat.id, gmv_30d=streamer_gmv))
    await session.flush()
    assert product.id is not None
    return product.id


@pytest.mark.storage
async def test_a_request_moves_only_for_its_parties_and_only_once(db) -> None:
    async with db.sessionmaker() as session:
        pid = await _seed(session)
        made = await samples.request_sample(
            pid, streamer_id=STREAMER, limits=samples.Limits(), now=T0, session=session
        )
        assert made.view is not None and made.view.status == "requested" and made.view.sku == "SKU-1"
        rid = made.view.id
        merchant_id = made.view.merchant_id
        await session.commit()
    async with db.sessionmaker() as session:
        rival = (await session.exec(select(User.merchant_id).where(User.telegram_id == RIVAL))).one()
        # Another merchant, or the streamer, cannot approve; nobody learns anything from trying.
        assert await samples.move(
            rid, Action.APPROVE, telegram_id=RIVAL, merchant_id=rival, session=session
        ) == (samples.Moved(False, None))
        stranger = await samples.move(
            rid, Action.CANCEL, telegram_id=STRANGER, merchant_id=None, session=session
        )
        assert stranger.view is None
        first = await samples.move(
            rid, Action.APPROVE, telegram_id=MERCHANT, merchant_id=merchant_id, session=session
        )
        again = await samples.move(
            rid, Action.APPROVE, telegram_id=MERCHANT, merchant_id=merchant_id, session=session
        )
        assert first.ok and not again.ok and again.view is not None and again.view.status == "approved"
        shipped = await samples.move(
            rid,
            Action.SHIP,
            telegram_id=MERCHANT,
            merchant_id=merchant_id,
            tracking=" SF 123-45 ",
            session=session,
        )
        assert shipped.ok and shipped.view is not None and shipped.view.tracking == " SF 123-45 "
        got = await samples.move(rid, Action.RECEIVE, telegram_id=STREAMER, merchant_id=None, session=session)
        assert got.ok and got.view is not None and got.view.status == "received"
        await session.commit()
        assert [v.status for v in await samples.all_requests(session=session)] == ["received"]


@pytest.mark.storage
async def test_limits_and_rules_refuse_with_the_reason(db) -> None:
    async with db.sessionmaker() as session:
        pid = await _seed(session, streamer_gmv=30_000)
        other = (await session.exec(select(Product.id).where(Product.sku == "SKU-2"))).one()
        food = (await session.exec(select(Product.id).where(Product.sku == "SKU-B"))).one()
        limits = samples.Limits(max_open=2, per_product_day=2)
        ok = await samples.request_sample(pid, streamer_id=STREAMER, limits=limits, now=T0, session=session)
        assert ok.view is not None
        dup = await samples.request_sample(pid, streamer_id=STREAMER, limits=limits, now=T0, session=session)
        assert dup.refusal == samples.Refusal.DUPLICATE and dup.existing_id == ok.view.id
        own = await samples.request_sample(
            pid,
            streamer_id=MERCHANT,
            streamer_merchant_id=ok.view.merchant_id,
            limits=limits,
            session=session,
        )
        assert own.refusal == samples.Refusal.OWN
        assert (
            await samples.request_sample(food, streamer_id=STREAMER, limits=limits, now=T0, session=session)
        ).view
        many = await samples.request_sample(
            other, streamer_id=STREAMER, limits=limits, now=T0, session=session
        )
        assert many.refusal == samples.Refusal.TOO_MANY and many.needed == 2
        # Two more streamers on SKU-1 the same day: the second is one too many.
        assert (
            await samples.request_sample(pid, streamer_id=5001, limits=limits, now=T0, session=session)
        ).view
        day = await samples.request_sample(pid, streamer_id=5002, limits=limits, now=T0, session=session)
        assert day.refusal == samples.Refusal.PRODUCT_DAY
        later = await samples.request_sample(
            pid, streamer_id=5002, limits=limits, now=T0 + timedelta(days=1, minutes=1), session=session
        )
        assert later.view is not None  # a new day

        assert await samples.set_rule(ok.view.merchant_id, "美妆个护", 50_000, session=session)
        assert not await samples.set_rule(ok.view.merchant_id, "没有的品类", 1, session=session)
        ruled = await samples.request_sample(other, streamer_id=5003, limits=limits, session=session)
        assert ruled.refusal == samples.Refusal.RULE and (ruled.needed, ruled.have) == (50_000, 0)
        assert await samples.rules_of(ok.view.merchant_id, session=session) == [("美妆个护", 50_000)]
        assert await samples.set_rule(ok.view.merchant_id, "美妆个护", None, session=session)
        assert await samples.rules_of(ok.view.merchant_id, session=session) == []
        await session.commit()


# --------------------------------------------------------------------------- through the dispatcher


def to(requests, chat_id: int) -> list[SendMessage]:
    return [r for r in requests if isinstance(r, SendMessage) and r.chat_id == chat_id]


def alerts(requests) -> list[str]:
    return [r.text or "" for r in requests if isinstance(r, AnswerCallbackQuery)]


def data_of(request, word: str) -> str:
    found = [data for label, data in buttons(request) if word in label]
    assert found, f"no {word!r} button in {buttons(request)}"
    assert found[0] is not None and len(found[0].encode()) <= 64
    return found[0]


async def _chat_seed(services, **kw) -> int:
    async with services.sessionmaker() as session:
        pid = await _seed(session, **kw)
        await session.commit()
    return pid


async def _status(services, rid: int) -> tuple[str, str | None]:
    async with services.sessionmaker() as session:
        row = await session.get(SampleRequest, rid)
        assert row is not None
        return row.status, row.tracking


async def _request_from_a_card(chat, pid: int) -> tuple[list, int]:
    """Open the product from search and press its 样品 button: the request goes at once."""
    card = await chat.message(STREAMER, "/grade SKU-1")
    photo = [r for r in card if type(r).__name__ == "SendPhoto"][0]
    sent = await chat.callback(STREAMER, data_of(photo, "样品"))
    rid = SampleCb.unpack(data_of(to(sent, MERCHANT)[0], "同意")).id
    return sent, rid


async def test_a_whole_sample_through_the_buttons(chat, services) -> None:
    pid = await _chat_seed(services)
    sent, rid = await _request_from_a_card(chat, pid)
    mine = "\n".join(m.text for m in to(sent, STREAMER))
    assert "已向商家" in mine and "SKU-1" in mine and f"#{rid}" in mine
    incoming = to(sent, MERCHANT)[0]
    assert "小红 &lt;主播&gt;" in incoming.text and "测试 &lt;面霜&gt;" in incoming.text
    assert_valid_html(incoming.text)
    approve, reject = data_of(incoming, "同意"), data_of(incoming, "拒绝")
    assert reject

    # Forged or replayed presses by anyone else change nothing.
    for presser in (RIVAL, STRANGER, STREAMER):
        out = await chat.callback(presser, approve)
        assert (
            alerts(out)
            and "不属于你" in alerts(out)[0]
            and not to(out, STREAMER if presser != STREAMER else 0)
        )
    assert (await _status(services, rid))[0] == "requested"

    done = await chat.callback(MERCHANT, approve)
    told = to(done, STREAMER)[0].text
    assert "同意" in told and f"#{rid}" in told
    edited = [r for r in done if getattr(r, "chat_id", None) == MERCHANT and getattr(r, "reply_markup", None)]
    ship = data_of(edited[0], "已寄出")  # the merchant's message now offers 已寄出
    replay = await chat.callback(MERCHANT, approve)
    assert "已同意" in alerts(replay)[0] and not to(replay, STREAMER)

    assert "不属于你" in alerts(await chat.callback(RIVAL, ship))[0]
    asked = await chat.callback(MERCHANT, ship)
    assert "快递单号" in "\n".join(texts(asked))
    typed = await chat.message(MERCHANT, "SF1234567890")  # the next text is the tracking number, not a search
    shipped = to(typed, STREAMER)[0]
    assert "SF1234567890" in shipped.text and await _status(services, rid) == ("shipped", "SF1234567890")
    received = data_of(shipped, "已收到")
    assert "不属于你" in alerts(await chat.callback(MERCHANT, received))[0]
    end = await chat.callback(STREAMER, received)
    assert "已收到" in to(end, MERCHANT)[0].text and (await _status(services, rid))[0] == "received"

    streamer_list = "\n".join(texts(await chat.message(STREAMER, "/samples")))
    merchant_list = "\n".join(texts(await chat.message(MERCHANT, "/samples")))
    assert "SKU-1" in streamer_list and "已收到" in streamer_list and "SF1234567890" in streamer_list
    assert "收到的样品申请" in merchant_list and "SKU-1" in merchant_list
    rival_list = "\n".join(texts(await chat.message(RIVAL, "/samples")))
    assert "SKU-1" not in rival_list


async def test_reject_asks_a_reason_and_the_streamer_sees_it(chat, services) -> None:
    pid = await _chat_seed(services)
    sent, rid = await _request_from_a_card(chat, pid)
    asked = await chat.callback(MERCHANT, data_of(to(sent, MERCHANT)[0], "拒绝"))
    assert "原因" in "\n".join(texts(asked))
    assert "1–300" in "\n".join(texts(await chat.message(MERCHANT, "x" * 301)))  # too long: asked again
    out = await chat.message(MERCHANT, "库存不足 <暂停>")
    told = to(out, STREAMER)[0].text
    assert "库存不足 &lt;暂停&gt;" in told and (await _status(services, rid))[0] == "rejected"
    await chat.message(MERCHANT, "之后的文字")  # the state is over: this is a search, not a new reason
    async with services.sessionmaker() as session:
        row = await session.get(SampleRequest, rid)
        assert row is not None and row.reason == "库存不足 <暂停>"


async def test_the_streamer_can_withdraw_and_the_merchant_is_told(chat, services) -> None:
    pid = await _chat_seed(services)
    sent, rid = await _request_from_a_card(chat, pid)
    cancel = data_of(to(sent, STREAMER)[0], "撤回")
    assert "不属于你" in alerts(await chat.callback(MERCHANT, cancel))[0]
    out = await chat.callback(STREAMER, cancel, lang="en")
    assert any("withdrawn" in text for text in texts(out))  # the streamer's own message, in English
    assert "撤回" in to(out, MERCHANT)[0].text and (await _status(services, rid))[0] == "cancelled"


async def test_rules_and_limits_are_refused_with_the_reason(chat, services) -> None:
    pid = await _chat_seed(services, streamer_gmv=12_345)
    saved = texts(await chat.message(MERCHANT, "/samplerule 美妆个护 50000"))[0]
    assert "美妆个护" in saved and "50,000" in saved
    assert "没有「化妆」" in texts(await chat.message(MERCHANT, "/samplerule 化妆 100"))[0]
    assert "不是有效" in texts(await chat.message(MERCHANT, "/samplerule 美妆个护 lots"))[0]
    assert "50,000" in texts(await chat.message(MERCHANT, "/samplerule"))[0]
    out = await chat.callback(STREAMER, SampleCb(action="r", id=pid).pack())
    assert "50,000" in alerts(out)[0] and "12,345" in alerts(out)[0] and not to(out, MERCHANT)
    assert "已取消" in texts(await chat.message(MERCHANT, "/samplerule 美妆个护 off"))[0]

    services.settings.sample_max_open = 1
    assert to(await chat.callback(STREAMER, SampleCb(action="r", id=pid).pack()), MERCHANT)
    async with services.sessionmaker() as session:
        other = (await session.exec(select(Product.id).where(Product.sku == "SKU-2"))).one()
    out = await chat.callback(STREAMER, SampleCb(action="r", id=other).pack(), lang="en")
    assert "open sample requests" in alerts(out)[0] and not to(out, MERCHANT)


async def test_privacy_no_private_figures_cross_and_forged_data_is_refused(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-P", category="美妆个护", merchant="M-A", **MIDDLING)  # refund 6.1%
        await bind_merchant(session, MERCHANT, "M-A")
        session.add(Streamer(telegram_id=STREAMER, name="小红"))
        await session.flush()
        cat = (await session.exec(select(Category).where(Category.name == "美妆个护"))).one()
        session.add(StreamerSale(telegram_id=STREAMER, category_id=cat.id, gmv_30d=87_654))
        pid = (await session.exec(select(Product.id).where(Product.sku == "SKU-P"))).one()
        await session.commit()
    await chat.message(STREAMER, "/start")
    sent = await chat.callback(STREAMER, SampleCb(action="r", id=pid).pack())
    rid = SampleCb.unpack(data_of(to(sent, MERCHANT)[0], "同意")).id
    await chat.callback(MERCHANT, SampleCb(action="a", id=rid).pack())
    streamer_side = "\n".join(m.text for m in to(sent, STREAMER))
    merchant_side = "\n".join(m.text for m in to(sent, MERCHANT))
    assert "6.1%" not in streamer_side and "退款率" not in streamer_side and "200,000" not in streamer_side
    assert "87,654" not in merchant_side and "87654" not in merchant_side  # the streamer's GMV stays theirs
    # Forged payloads: a bad action, an id out of range, garbage; none reach storage or anyone else.
    for forged in ("sm:z:1", "sm:a:0", "sm:a:99999999999", "sm:a:abc", f"sm:r:{2**31}"):
        out = await chat.callback(STRANGER, forged)
        assert (
            alerts(out) and "不属于你" in alerts(out)[0] and not to(out, MERCHANT) and not to(out, STREAMER)
        )
    assert (await _status(services, rid))[0] == "approved"


# --------------------------------------------------------------------------- the pass


class Recorder:
    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, out):
        self.sent.append(out)


async def test_the_pass_reminds_first_then_expires_and_tells_both(services) -> None:
    async with services.sessionmaker() as session:
        pid = await _seed(session)
        made = await samples.request_sample(
            pid, streamer_id=STREAMER, limits=samples.Limits(), now=T0, session=session
        )
        assert made.view is not None
        await session.commit()
    settings, rec = services.settings, Recorder()
    await run_sample_pass(services.sessionmaker, settings, rec, now=T0 + timedelta(hours=47))
    assert rec.sent == []
    report = await run_sample_pass(services.sessionmaker, settings, rec, now=T0 + timedelta(hours=49))
    assert report.reminded == 1 and [o.chat_id for o in rec.sent] == [MERCHANT]
    assert "⏰" in rec.sent[0].text and rec.sent[0].reply_markup is not None  # 同意/拒绝 again
    again = await run_sample_pass(services.sessionmaker, settings, rec, now=T0 + timedelta(hours=50))
    assert again.reminded == 0 and len(rec.sent) == 1  # one reminder per state
    gone = await run_sample_pass(services.sessionmaker, settings, rec, now=T0 + timedelta(hours=121))
    assert gone.expired == 1 and {o.chat_id for o in rec.sent[1:]} == {STREAMER, MERCHANT}
    async with services.sessionmaker() as session:
        assert (await samples.get_request(made.view.id, session=session)).status == "expired"


# --------------------------------------------------------------------------- the command line


def test_cli_lists_every_request_as_json(tmp_path: Path, monkeypatch, capsys) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    upgrade_sync(url)

    async def fill() -> None:
        async with open_database(url) as (_engine, sessionmaker), sessionmaker() as session:
            pid = await _seed(session)
            made = await samples.request_sample(
                pid, streamer_id=STREAMER, limits=samples.Limits(), session=session
            )
            assert made.view is not None
            await samples.move(
                made.view.id,
                Action.APPROVE,
                telegram_id=MERCHANT,
                merchant_id=made.view.merchant_id,
                session=session,
            )
            await samples.move(
                made.view.id,
                Action.SHIP,
                telegram_id=MERCHANT,
                merchant_id=made.view.merchant_id,
                tracking="YT 9988",
                session=session,
            )
            await session.commit()

    asyncio.run(fill())
    assert main(["samples", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == [
        {
            "id": 1,
            "sku": "SKU-1",
            "streamer": STREAMER,
            "merchant": "M-A",
            "status": "shipped",
            "tracking": "YT 9988",
        }
    ]


async def test_a_command_ends_the_wait_for_a_tracking_number(chat, services) -> None:
    pid = await _chat_seed(services)
    sent, rid = await _request_from_a_card(chat, pid)
    approved = await chat.callback(MERCHANT, data_of(to(sent, MERCHANT)[0], "同意"))
    edited = [
        r for r in approved if getattr(r, "chat_id", None) == MERCHANT and getattr(r, "reply_markup", None)
    ]
    asked = await chat.callback(MERCHANT, data_of(edited[0], "已寄出"))
    assert "快递单号" in "\n".join(texts(asked))
    helped = "\n".join(texts(await chat.message(MERCHANT, "/help")))  # the command is answered...
    assert "/samples" in helped
    await chat.message(MERCHANT, "SF1234567890")  # ...and the next text is no longer the tracking number
    assert await _status(services, rid) == ("approved", None)
