"""Tier-change alerts: one message per bound merchant user, through the shared sender, told once."""

from __future__ import annotations

from sqlmodel import col, select

from bot.render import TELEGRAM_LIMIT
from jobs.alerts import Moved, alert_text, notify_tier_changes, reason_text
from storage.tables import Product, TierChange, User
from storage.tier_changes import TierChangeInfo
from tests.factories import add_product, bind_merchant
from tests.harness import ChatHarness


async def seed_changes(services, n: int = 2, *, merchant: str = "M-A") -> list[TierChangeInfo]:
    """`n` products of `merchant` with an untold TierChange each: the first goes down, the rest up."""
    changes = []
    async with services.sessionmaker() as session:
        for i in range(n):
            p = await add_product(session, f"{merchant}-{i:03d}", title=f"<商品> {i}", merchant=merchant)
            old, new = ("L4", "L2") if i == 0 else ("L3", "L4")
            dim, by = ("service", -12.5) if i == 0 else ("price", 6.25)
            session.add(
                TierChange(
                    product_id=p.id,
                    old_tier=old,
                    new_tier=new,
                    new_score=70,
                    moved_dimension=dim,
                    moved_by=by,
                )
            )
            changes.append(TierChangeInfo(p.sku, p.id, p.merchant_id, p.title, old, new, dim, by))
        await session.commit()
    return changes


def sent_messages(harness: ChatHarness) -> list:
    return harness.session.of("SendMessage")


async def test_each_bound_user_gets_one_message_with_ups_downs_and_reasons(chat, services) -> None:
    changes = await seed_changes(services, 3)
    others = await seed_changes(services, 1, merchant="M-NOBODY")  # no one bound: no one told
    async with services.sessionmaker() as session:
        await bind_merchant(session, 701, "M-A")
        await bind_merchant(session, 702, "M-A")
        await session.commit()
    first_grade = TierChangeInfo("NEW-1", None, None, "新品", None, "L3", None, None)
    report = await notify_tier_changes(chat.bot, services, [*changes, *others, first_grade])

    messages = sent_messages(chat)
    assert sorted(m.chat_id for m in messages) == [701, 702]
    text = messages[0].text
    assert "M-A-000" in text and "M-A-001" in text and "M-A-002" in text and "M-NOBODY" not in text
    assert "L4 → <b>L2</b>" in text and "服务力 -12.5" in text  # down, with the dimension that moved most
    assert "L3 → <b>L4</b>" in text and "价格力 +6.2" in text
    assert text.index("降级（") < text.index("升级（")  # what needs acting on comes first
    assert "&lt;商品&gt;" in text and "<商品>" not in text
    assert report.recipients == 2 and report.outcomes == {"sent": 2}
    assert services.sender is not None  # made once, shared from now on

    async with services.sessionmaker() as session:
        rows = (await session.exec(select(TierChange, Product.sku).join(Product))).all()
    told = {sku: change.alerted_at is not None for change, sku in rows}
    assert told == {"M-A-000": True, "M-A-001": True, "M-A-002": True, "M-NOBODY-000": False}

    again = await notify_tier_changes(chat.bot, services, changes)  # a re-run tells nobody twice
    assert again.recipients == 0 and len(sent_messages(chat)) == 2


async def test_english_merchants_get_english(chat, services) -> None:
    changes = await seed_changes(services, 2)
    async with services.sessionmaker() as session:
        await bind_merchant(session, 701, "M-A")
        (await session.get(User, 701)).language = "en"
        await session.commit()
    await notify_tier_changes(chat.bot, services, changes)
    text = sent_messages(chat)[0].text
    assert "Tier changes" in text and "Service -12.5" in text and "分层" not in text


async def test_a_blocked_merchant_is_not_written_to_again(chat, services) -> None:
    changes = await seed_changes(services, 1)
    async with services.sessionmaker() as session:
        await bind_merchant(session, 701, "M-A")
        await session.commit()
    chat.session.queue(ok=False, error_code=403, description="Forbidden: bot was blocked by the user")
    report = await notify_tier_changes(chat.bot, services, changes)
    assert report.outcomes == {"blocked": 1}
    async with services.sessionmaker() as session:
        assert (await session.get(User, 701)).active is False
        pending = (await session.exec(select(TierChange).where(col(TierChange.alerted_at).is_(None)))).all()
    assert len(pending) == 1  # not told: still pending
    await notify_tier_changes(chat.bot, services, changes)
    assert len(sent_messages(chat)) == 1  # the one failed attempt only


async def test_no_database_connection_is_held_while_sending(chat, services) -> None:
    changes = await seed_changes(services, 2)
    async with services.sessionmaker() as session:
        await bind_merchant(session, 701, "M-A")
        await session.commit()
    engine = services.sessionmaker.kw["bind"]
    held: list[int] = []
    chat.session.on_request = lambda method: held.append(engine.pool.checkedout())
    await notify_tier_changes(chat.bot, services, changes)
    assert held == [0]


def test_a_long_list_stays_one_message_under_telegrams_limit() -> None:
    moves = [
        Moved(i, 1, f"SKU-{i:05d}", "很长的商品标题" * 10, "L3", "L4" if i % 2 else "L2", "sales", 3.0)
        for i in range(500)
    ]
    text = alert_text("商家" * 50, moves, "zh")
    assert len(text) < TELEGRAM_LIMIT and "另有 470 个" in text


def test_reasons_name_a_dimension_a_gate_or_the_policy() -> None:
    def move(dim, by=None, old="L3", new="L4"):
        return Moved(1, 1, "S", "t", old, new, dim, by)

    assert reason_text(move("brand", 4.04), "zh") == "品牌力 +4.0"
    assert reason_text(move("counterfeit", old="L4", new="L0"), "zh") == "被判定为假冒"
    assert reason_text(move("factory_verified", old="L4", new="L5"), "en") == "factory check passed"
    assert reason_text(move(None), "zh") == "评级规则调整"
