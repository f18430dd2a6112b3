"""/invite → /bind → /mygoods → the grade card and its chart, through the real dispatcher."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlmodel import select

from bot.dispatcher import build_dispatcher
from bot.keyboards import GradeCb, MyGoodsCb
from storage.tables import InviteCode, Merchant, Product, User
from tests.conftest import ADMIN_ID
from tests.factories import MIDDLING, add_product, bind_merchant
from tests.harness import buttons, texts

STREAMER, MERCHANT, OTHER_MERCHANT = 111, 222, 333


def said(requests: list[Any]) -> str:
    """Every string the bot put in these requests: texts, captions, buttons, inline results, alerts."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    for request in requests:
        walk(request.model_dump(mode="python"))
    return "\n".join(out)


def of(requests: list[Any], name: str) -> list[Any]:
    return [r for r in requests if any(c.__name__ == name for c in type(r).__mro__)]  # subclasses count


async def seed(services, n_top: int = 0) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-9", title="云南白药 <牙膏> & 180g", merchant="M-A", **MIDDLING)
        await add_product(session, "SKU-TOP", title="云南白药 牙刷", merchant="M-A")
        await add_product(session, "SKU-FAKE", title="假货", merchant="M-A", counterfeit_flag=1)
        await add_product(session, "SKU-OTHER", title="别家的货", merchant="M-B")
        for i in range(n_top):
            await add_product(
                session, f"BULK-{i:03d}", title=f"批量商品 {i}", merchant="M-A", brand_awareness=50 + i % 40
            )
        await bind_merchant(session, MERCHANT, "M-A")
        await bind_merchant(session, OTHER_MERCHANT, "M-B")
        await session.commit()


async def product_id(services, sku: str) -> int:
    async with services.sessionmaker() as session:
        return (await session.exec(select(Product.id).where(Product.sku == sku))).one()


async def merchant_id(services, code: str) -> int:
    async with services.sessionmaker() as session:
        return (await session.exec(select(Merchant.id).where(Merchant.code == code))).one()


# --------------------------------------------------------------------------- invite and bind


async def test_admin_invites_and_a_streamer_binds_with_the_code(chat, services) -> None:
    await seed(services)
    await chat.message(STREAMER, "/start")
    sent = await chat.message(ADMIN_ID, "/invite M-A")
    reply = texts(sent)[0]
    async with services.sessionmaker() as session:
        invite = (await session.exec(select(InviteCode))).one()
    assert invite.code in reply and "/bind" in reply and "M-A" in reply
    assert (invite.expires_at - invite.created_at).days == 7

    bound = texts(await chat.message(STREAMER, f"/bind {invite.code.lower()}"))[0]
    assert "已绑定商家" in bound and "M-A" in bound
    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
    assert user is not None and user.merchant_id is not None
    assert "M-A" in texts(await chat.message(STREAMER, "/start"))[0]  # greeted as the merchant now
    assert "SKU-9" in "\n".join(texts(await chat.message(STREAMER, "/mygoods")))

    again = texts(await chat.message(STREAMER, f"/bind {invite.code}"))[0]
    assert "已经被你使用" in again and "M-A" in again  # a re-sent code says "used", not "unused"
    used = texts(await chat.message(444, f"/bind {invite.code}"))[0]
    assert "已经被使用" in used


async def test_unknown_merchant_lists_close_matches(chat, services) -> None:
    await seed(services)
    reply = texts(await chat.message(ADMIN_ID, "/invite M-C"))[0]
    assert "M-C" in reply and "<code>M-A</code>" in reply and "<code>M-B</code>" in reply
    usage = texts(await chat.message(ADMIN_ID, "/invite"))[0]
    assert "/invite" in usage
    async with services.sessionmaker() as session:
        assert (await session.exec(select(InviteCode))).all() == []


async def test_bind_refuses_bad_codes_and_admins_clearly(chat, services) -> None:
    await seed(services)
    assert "/bind" in texts(await chat.message(STREAMER, "/bind"))[0]
    assert "不存在" in texts(await chat.message(STREAMER, "/bind <b>XX</b>"))[0]
    assert "&lt;b&gt;" in texts(await chat.message(STREAMER, "/bind <b>XX</b>"))[0]  # echoed escaped
    await chat.message(ADMIN_ID, "/invite M-A")
    async with services.sessionmaker() as session:
        code = (await session.exec(select(InviteCode.code))).one()
    assert "管理员" in texts(await chat.message(ADMIN_ID, f"/bind {code}"))[0]
    async with services.sessionmaker() as session:
        assert (await session.get(InviteCode, code)).used_by is None  # the admin did not use it up
    english = texts(await chat.message(STREAMER, "/bind NOPE2345", lang="en"))[0]
    assert "no invite code" in english


# --------------------------------------------------------------------------- /mygoods


async def test_mygoods_pages_through_tiers_and_opens_cards(chat, services) -> None:
    await seed(services, n_top=22)  # 24 goods of M-A: three pages
    sent = await chat.message(MERCHANT, "/mygoods")
    page1 = of(sent, "SendMessage")[0]
    assert "共 25 个" in page1.text and "第 1/3 页" in page1.text
    assert "SKU-OTHER" not in page1.text and "&lt;牙膏&gt;" not in page1.text  # L2 item: not on page 1
    marks = buttons(page1)
    numbered = [data for text, data in marks if text.isdigit()]
    assert len(numbered) == 10
    nexts = [data for text, data in marks if "下一页" in text]
    assert len(nexts) == 1

    turned = await chat.callback(MERCHANT, nexts[0])
    edit = of(turned, "EditMessageText")[0]
    assert "第 2/3 页" in edit.text
    assert of(turned, "AnswerCallbackQuery")

    last = await chat.callback(
        MERCHANT, MyGoodsCb(merchant_id=await merchant_id(services, "M-A"), page=2, fresh=0).pack()
    )
    text = of(last, "EditMessageText")[0].text
    assert (
        "&lt;牙膏&gt; &amp;" in text and "SKU-FAKE" in text and "假冒判定" in text
    )  # escaped; owner sees it

    l0 = [data for label, data in buttons(of(last, "EditMessageText")[0]) if label.startswith("L0")]
    only_l0 = of(await chat.callback(MERCHANT, l0[0]), "EditMessageText")[0].text
    assert "SKU-FAKE" in only_l0 and "SKU-TOP" not in only_l0

    card = await chat.callback(MERCHANT, numbered[0])
    assert "退款率" in said(card) and of(card, "SendPhoto")


async def test_mygoods_is_for_merchants_and_admins(chat, services) -> None:
    await seed(services)
    refused = texts(await chat.message(STREAMER, "/mygoods"))[0]
    assert "/bind" in refused
    admin = "\n".join(texts(await chat.message(ADMIN_ID, "/mygoods M-B")))
    assert "SKU-OTHER" in admin and "SKU-9" not in admin
    assert "/mygoods" in texts(await chat.message(ADMIN_ID, "/mygoods"))[0]  # usage
    assert "M-A" in texts(await chat.message(ADMIN_ID, "/mygoods m-x"))[0]  # close matches
    group = await chat.message(MERCHANT, "/mygoods", chat_type="group", chat_id=-100)
    assert "SKU" not in said(group) and "私聊" in texts(group)[0]


async def test_english_mygoods(chat, services) -> None:
    await seed(services)
    reply = texts(await chat.message(MERCHANT, "/mygoods", lang="en"))[0]
    assert "goods by tier" in reply and "Page 1/1" in reply and "商品分层" not in reply


# --------------------------------------------------------------------------- the grade card


async def test_grade_sends_the_card_then_a_radar_chart(chat, services) -> None:
    await seed(services)
    sent = await chat.message(MERCHANT, "/grade SKU-9")
    kinds = [type(r).__name__ for r in sent]
    assert kinds.index("SendMessage") < kinds.index("SendPhoto")
    photo = of(sent, "SendPhoto")[0]
    data = photo.photo.data
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and 300 <= image.width <= 2000 and 300 <= image.height <= 2000
    assert "美妆个护" in photo.caption and "&lt;牙膏&gt;" in photo.caption
    assert [label for label, _ in buttons(photo)][-1] == "📦 该商家的全部商品"  # owner: back to all goods
    public = of(await chat.message(STREAMER, "/grade SKU-9"), "SendPhoto")[0]
    assert [label for label, _ in buttons(public)] == [
        "↗️ 分享",
        "📦 申请样品",
    ]  # a stranger: share, ask a sample


async def test_grade_button_re_checks_who_presses(chat, services) -> None:
    await seed(services)
    data = GradeCb(product_id=await product_id(services, "SKU-9")).pack()
    assert len(data.encode()) <= 64
    owner = said(await chat.callback(MERCHANT, data))
    stranger = await chat.callback(STREAMER, data)
    assert "退款率" in owner and "6.1%" in owner
    assert "SKU-9" in said(stranger) and "退款率" not in said(stranger) and "6.1%" not in said(stranger)
    assert of(stranger, "AnswerCallbackQuery")


async def test_forged_and_stale_grade_buttons_get_a_polite_answer(chat, services) -> None:
    await seed(services)
    for data in ("gr:abc", "gr:", "gr:1:2", "gr:99999", "gr:-1"):
        sent = await chat.callback(STREAMER, data)
        answers = of(sent, "AnswerCallbackQuery")
        assert len(answers) == 1 and answers[0].text and "出了点问题" not in answers[0].text, data
        assert not of(sent, "SendMessage")
    for data in ("gr:99999999999999999999999", "mg:99999999999999999999:A:0:0", "mg:0:A:0:1", "ad:revoke:"):
        answers = of(await chat.callback(ADMIN_ID, data), "AnswerCallbackQuery")  # admins may see anything...
        assert len(answers) == 1 and "出了点问题" not in answers[0].text, data  # ...that exists
    fake = GradeCb(product_id=await product_id(services, "SKU-FAKE")).pack()
    hidden = await chat.callback(STREAMER, fake)
    assert not of(hidden, "SendMessage") and "假货" not in said(hidden)
    assert "假冒" in said(await chat.callback(MERCHANT, fake))


async def test_an_owner_pressing_grade_in_a_group_keeps_figures_private(chat, services) -> None:
    import time

    from aiogram.types import CallbackQuery, Chat, Message, Update
    from aiogram.types import User as TgUser

    await seed(services)
    data = GradeCb(product_id=await product_id(services, "SKU-9")).pack()
    bot_user = TgUser(id=42, is_bot=True, first_name="bot")
    message = Message(
        message_id=5,
        date=int(time.time()),
        chat=Chat(id=-100200, type="supergroup"),
        from_user=bot_user,
        text="card",
    )
    query = CallbackQuery(
        id="q1",
        from_user=TgUser(id=MERCHANT, is_bot=False, first_name="m"),
        chat_instance="g",
        message=message,
        data=data,
    )
    before = len(chat.session.requests)
    await chat.dp.feed_update(chat.bot, Update(update_id=99, callback_query=query))
    sent = chat.session.requests[before:]
    assert "SKU-9" in said(sent) and "退款率" not in said(sent) and "私聊" in said(sent)
    assert all(getattr(r, "chat_id", -100200) == -100200 for r in of(sent, "SendMessage"))


async def test_grade_pressed_on_a_shared_inline_card_answers_in_private(chat, services) -> None:
    import time

    from aiogram.types import CallbackQuery, Update
    from aiogram.types import User as TgUser

    await seed(services)
    data = GradeCb(product_id=await product_id(services, "SKU-9")).pack()

    async def press(user_id: int) -> list[Any]:
        query = CallbackQuery(
            id=f"i{time.time_ns()}",
            from_user=TgUser(id=user_id, is_bot=False, first_name="u"),
            chat_instance="i",
            inline_message_id="AAAA-shared",
            data=data,
        )
        before = len(chat.session.requests)
        await chat.dp.feed_update(chat.bot, Update(update_id=time.time_ns() % 10**9, callback_query=query))
        return chat.session.requests[before:]

    owner = await press(MERCHANT)
    assert {r.chat_id for r in of(owner, "SendMessage")} == {MERCHANT} and "退款率" in said(owner)
    chat.session.queue(
        ok=False, error_code=403, description="Forbidden: bot can't initiate conversation with a user"
    )
    stranger = await press(555)
    answers = of(stranger, "AnswerCallbackQuery")
    assert len(answers) == 1 and "/start" in answers[0].text


async def test_grade_card_opens_the_product_in_the_mini_app_in_private_chats(chat, services) -> None:
    await seed(services)
    services.settings = services.settings.model_copy(update={"webapp_url": "https://shop.example.test/app/"})
    chat.dp = build_dispatcher(services)
    pid = await product_id(services, "SKU-9")

    def web_apps(request) -> list[str]:
        markup = request.reply_markup
        rows = markup.inline_keyboard if markup is not None else []
        return [b.web_app.url for row in rows for b in row if b.web_app is not None]

    photo = of(await chat.message(STREAMER, "/grade SKU-9"), "SendPhoto")[0]
    assert web_apps(photo) == [f"https://shop.example.test/app/?product={pid}"]
    owner = of(await chat.message(MERCHANT, "/grade SKU-9"), "SendPhoto")[0]
    assert len(web_apps(owner)) == 1 and "mg:" in str(buttons(owner))  # and back to all goods
    # Telegram refuses web_app buttons outside private chats: none in a group.
    group = of(await chat.message(STREAMER, "/grade SKU-9", chat_type="group", chat_id=-100), "SendPhoto")[0]
    assert web_apps(group) == []
