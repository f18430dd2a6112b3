"""Privacy: raw indicators reach only the owning merchant and admins, by any road; admin tools only admins.

Each test looks at everything the bot actually sent (texts, captions, buttons, inline results and
callback answers) and checks the indicator labels and the product's raw values are absent for a
streamer and for a rival merchant, and present for the owner (so the check can fail).
"""

from __future__ import annotations

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.keyboards import AdminCb, GradeCb, MyGoodsCb
from storage.tables import InviteCode, Merchant, Product, TierChange
from tests.conftest import ADMIN_ID
from tests.factories import MIDDLING, add_product, bind_merchant
from tests.test_admin_tools import csv_bytes, send_file
from tests.test_import import product
from tests.test_merchant_handlers import of, said

STREAMER, OWNER, RIVAL = 111, 222, 333
# The indicator labels of the private card, and SECRET's raw values as the card would format them.
PRIVATE_MARKS = ("退款率", "纠纷率", "30天GMV", "转化率", "店铺评分", "门槛检查", "6.1%", "1.20%", "¥200,000")
PRIVATE_MARKS_EN = ("Refund rate", "Dispute rate", "GMV (30d)", "Conversion rate", "6.1%", "¥200,000")


def assert_private_absent(text: str, marks=PRIVATE_MARKS) -> None:
    leaked = [m for m in marks if m in text]
    assert not leaked, f"leaked {leaked}"


def assert_private_present(text: str, marks=PRIVATE_MARKS) -> None:
    missing = [m for m in marks if m not in text]
    assert not missing, f"missing {missing}"


@pytest.fixture
async def catalog(services) -> dict[str, int]:
    """SECRET (owner's, L2, distinctive raw values), FAKE (owner's, counterfeit), RIVAL-1; index built."""
    async with services.sessionmaker() as session:
        secret = await add_product(
            session,
            "SECRET-1",
            title="云南白药 牙膏 秘密款",
            brand="云南白药",
            merchant="M-OWNER",
            **MIDDLING,
        )
        fake = await add_product(
            session,
            "FAKE-1",
            title="云南白药 牙膏 假货",
            brand="云南白药",
            merchant="M-OWNER",
            counterfeit_flag=1,
        )
        await add_product(session, "RIVAL-1", title="高露洁 牙膏", brand="高露洁", merchant="M-RIVAL")
        await bind_merchant(session, OWNER, "M-OWNER")
        await bind_merchant(session, RIVAL, "M-RIVAL")
        await session.commit()
        owner_id = (await session.exec(select(Merchant.id).where(Merchant.code == "M-OWNER"))).one()
    await services.catalog.refresh(services.sessionmaker)
    return {"secret": secret.id, "fake": fake.id, "merchant": owner_id}


async def test_grade_command(chat, catalog) -> None:
    assert_private_present(said(await chat.message(OWNER, "/grade SECRET-1")))
    assert_private_present(said(await chat.message(ADMIN_ID, "/grade SECRET-1")))
    for user in (STREAMER, RIVAL):
        sent = said(await chat.message(user, "/grade SECRET-1"))
        assert "SECRET-1" in sent
        assert_private_absent(sent)
        assert_private_absent(said(await chat.message(user, "/grade SECRET-1", lang="en")), PRIVATE_MARKS_EN)
        hidden = said(await chat.message(user, "/grade FAKE-1"))
        assert "假货" not in hidden and "L0" not in hidden


async def test_grade_buttons_forged_or_replayed(chat, catalog) -> None:
    data = GradeCb(product_id=catalog["secret"]).pack()
    assert_private_present(said(await chat.callback(OWNER, data)))
    for user in (STREAMER, RIVAL):
        sent = said(await chat.callback(user, data))
        assert "SECRET-1" in sent
        assert_private_absent(sent)
        fake = said(await chat.callback(user, GradeCb(product_id=catalog["fake"]).pack()))
        assert "假货" not in fake and "FAKE-1" not in fake
        for forged in ("gr:0", f"gr:{catalog['secret']}:1", "gr:999999999999999999999", "gr:x"):
            sent_forged = await chat.callback(user, forged)
            assert_private_absent(said(sent_forged))
            assert len(of(sent_forged, "AnswerCallbackQuery")) == 1


async def test_search_cards_and_inline_answers(chat, catalog) -> None:
    owner_search = said(await chat.message(OWNER, "云南白药 牙膏"))
    assert "秘密款" in owner_search  # the search found it: the negative checks below mean something
    for user in (STREAMER, RIVAL):
        typed = await chat.message(user, "云南白药 牙膏")
        assert "秘密款" in said(typed)
        assert_private_absent(said(typed))
        # Open every card button the search offered, then every button on those cards.
        pressed = []
        for request in typed:
            markup = getattr(request, "reply_markup", None)
            for row in getattr(markup, "inline_keyboard", []) or []:
                for button in row:
                    if button.callback_data:
                        pressed += await chat.callback(user, button.callback_data)
        assert_private_absent(said(pressed))
        assert "假货" not in said(typed) + said(pressed)

        inline = await chat.inline(user, "云南白药")
        answers = of(inline, "AnswerInlineQuery")
        assert answers and answers[0].results, "inline mode answered nothing"
        assert "秘密款" in said(inline)
        assert_private_absent(said(inline))
        assert "假货" not in said(inline)
    admin_inline = said(await chat.inline(ADMIN_ID, "云南白药"))
    assert_private_absent(admin_inline)  # a shared card is public, whoever shares it


async def test_mygoods_buttons_of_another_merchant(chat, catalog) -> None:
    page = MyGoodsCb(merchant_id=catalog["merchant"], page=0, fresh=0).pack()
    owner = said(await chat.callback(OWNER, page))
    assert "FAKE-1" in owner and "SECRET-1" in owner
    for user in (STREAMER, RIVAL):
        for data in (
            page,
            MyGoodsCb(merchant_id=catalog["merchant"], tier="L0").pack(),
            "mg:1:Lx:0:0",
            "mg:abc",
        ):
            sent = await chat.callback(user, data)
            assert [type(r).__name__ for r in sent] == ["AnswerCallbackQuery"], data
            assert "SECRET-1" not in said(sent) and "FAKE-1" not in said(sent)
    rival_list = said(await chat.message(RIVAL, "/mygoods"))
    assert "RIVAL-1" in rival_list and "SECRET-1" not in rival_list


async def test_non_admins_cannot_run_admin_commands(chat, services, catalog) -> None:
    async with services.sessionmaker() as session:
        # Indicators edited under the stored grade: a real /regrade would move SECRET-1's tier.
        await session.exec(update(Product).where(Product.sku == "SECRET-1").values(refund_rate=0.5))
        await session.commit()
    for user in (STREAMER, OWNER):
        for command in ("/stats", "/invite M-OWNER", "/regrade", "/import"):
            sent = await chat.message(user, command)
            assert "管理员" in said(sent) and "M-OWNER" not in said(sent), command
        uploaded = await send_file(chat, user, csv_bytes([product("SNEAK-1", merchant="M-OWNER")]))
        assert "管理员" in said(uploaded)
        english = said(await chat.message(user, "/stats", lang="en"))
        assert "Only admins" in english
    async with services.sessionmaker() as session:
        assert (await session.exec(select(InviteCode))).all() == []
        assert (await session.exec(select(TierChange))).all() == []
        assert (await session.exec(select(Product).where(Product.sku == "SNEAK-1"))).first() is None
    assert chat.session.of("GetFile") == []  # the upload was not even downloaded


async def test_replayed_admin_buttons_change_nothing(chat, services, catalog) -> None:
    sent = await chat.message(ADMIN_ID, "/invite M-OWNER")
    revoke = sent[0].reply_markup.inline_keyboard[0][0].callback_data
    for user in (STREAMER, OWNER, RIVAL):
        for data in (revoke, AdminCb(action="stats").pack(), "ad:drop_everything:", "ad:"):
            replay = await chat.callback(user, data)
            assert [type(r).__name__ for r in replay] == ["AnswerCallbackQuery"]
            assert "M-OWNER" not in said(replay) and "商品" not in said(replay)
    async with services.sessionmaker() as session:
        invite = (await session.exec(select(InviteCode))).one()
    assert invite.used_by is None and invite.expires_at > invite.created_at.replace(microsecond=0)
    bound = said(await chat.message(444, f"/bind {invite.code}"))
    assert "已绑定商家" in bound  # still a good code: the replays revoked nothing
