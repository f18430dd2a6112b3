"""/start, /help, unknown commands and /grade through the real dispatcher."""

from __future__ import annotations

from sqlmodel import select

from storage.tables import User
from tests.conftest import ADMIN_ID
from tests.factories import MIDDLING, add_product, bind_merchant
from tests.harness import texts

STREAMER, MERCHANT, OTHER_MERCHANT = 111, 222, 333


async def test_start_registers_a_streamer_and_greets_in_chinese(chat, services) -> None:
    sent = await chat.message(STREAMER, "/start")
    assert "选品助手" in texts(sent)[0]
    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
    assert user is not None and user.merchant_id is None and user.active


async def test_english_users_get_english(chat) -> None:
    sent = await chat.message(STREAMER, "/start", lang="en")
    assert "Xuanpin" in texts(sent)[0] and "选品助手" not in texts(sent)[0]


async def test_start_greets_by_role(chat, services) -> None:
    admin = texts(await chat.message(ADMIN_ID, "/start"))[0]
    assert "管理员" in admin
    async with services.sessionmaker() as session:
        await add_product(session, "S1", merchant="云南白药旗舰店")
        await bind_merchant(session, MERCHANT, "云南白药旗舰店")
        await session.commit()
    merchant = texts(await chat.message(MERCHANT, "/start"))[0]
    assert "云南白药旗舰店" in merchant


async def test_help_lists_only_what_the_user_may_use(chat) -> None:
    streamer_help = texts(await chat.message(STREAMER, "/help"))[0]
    admin_help = texts(await chat.message(ADMIN_ID, "/help"))[0]
    assert "/picks" in streamer_help and "/invite" not in streamer_help and "/stats" not in streamer_help
    assert "/invite" in admin_help and "/stats" in admin_help


async def test_unknown_command_says_how_to_get_help(chat) -> None:
    reply = texts(await chat.message(STREAMER, "/frobnicate <b>now</b>"))[0]
    assert "/frobnicate" in reply and "/help" in reply


async def test_restart_after_blocking_reactivates(chat, services) -> None:
    await chat.message(STREAMER, "/start")
    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
        user.active = False
        await session.commit()
    await chat.message(STREAMER, "/start")
    async with services.sessionmaker() as session:
        assert (await session.exec(select(User.active).where(User.telegram_id == STREAMER))).one() is True


async def test_grade_shows_private_figures_only_to_owner_and_admin(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-9", title="云南白药 <牙膏> & 180g", merchant="M-A", **MIDDLING)
        await add_product(session, "SKU-OTHER", merchant="M-B")
        await bind_merchant(session, MERCHANT, "M-A")
        await bind_merchant(session, OTHER_MERCHANT, "M-B")
        await session.commit()

    owner = "\n".join(texts(await chat.message(MERCHANT, "/grade SKU-9")))
    admin = "\n".join(texts(await chat.message(ADMIN_ID, "/grade SKU-9")))
    stranger = "\n".join(texts(await chat.message(STREAMER, "/grade SKU-9")))
    rival = "\n".join(texts(await chat.message(OTHER_MERCHANT, "/grade SKU-9")))

    for private in (owner, admin):
        assert "退款率" in private and "6.1%" in private and "门槛" in private
    for public in (stranger, rival):
        assert "SKU-9" in public and "品牌力" in public
        assert "退款率" not in public and "6.1%" not in public and "30天GMV" not in public
    assert "&lt;牙膏&gt; &amp;" in stranger  # catalog text is escaped


async def test_grade_without_sku_or_unknown_sku(chat) -> None:
    assert "/grade" in texts(await chat.message(STREAMER, "/grade"))[0]
    assert "NOPE" in texts(await chat.message(STREAMER, "/grade NOPE"))[0]


async def test_counterfeit_is_hidden_from_streamers(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "FAKE-1", merchant="M-A", counterfeit_flag=1)
        await session.commit()
    reply = texts(await chat.message(STREAMER, "/grade FAKE-1"))[0]
    assert "FAKE-1" in reply and "L0" not in reply  # the not-found message, not the card
    admin = "\n".join(texts(await chat.message(ADMIN_ID, "/grade FAKE-1")))
    assert "L0" in admin and "假冒" in admin


async def test_a_failing_handler_answers_with_an_apology(chat, services, monkeypatch) -> None:
    import handlers.grade

    async def boom(*_args, **_kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(handlers.grade, "find_record", boom)
    # The dispatcher's error handler catches it; the user hears about it, the loop goes on.
    sent = await chat.message(STREAMER, "/grade SKU-1")
    assert texts(sent) == ["抱歉，出了点问题，请稍后再试。"]


async def test_unknown_commands_for_other_bots_in_groups_are_ignored(chat) -> None:
    assert texts(await chat.message(STREAMER, "/start@other_bot", chat_type="group", chat_id=-100)) == []
    assert texts(await chat.message(STREAMER, "/nope", chat_type="group", chat_id=-100)) == []
    me = await chat.bot.me()
    reply = texts(await chat.message(STREAMER, f"/nope@{me.username}", chat_type="group", chat_id=-100))
    assert reply and "/help" in reply[0]


async def test_grade_usage_example_is_the_merchants_own_product(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "THEIRS-1", merchant="M-B")
        await add_product(session, "MINE-1", merchant="M-A", **MIDDLING)
        await bind_merchant(session, MERCHANT, "M-A")
        await session.commit()
    assert "/grade MINE-1" in texts(await chat.message(MERCHANT, "/grade"))[0]
