"""Roles add up: /bind keeps the streamer, /help and the menu follow the roles held, invite reasons."""

from __future__ import annotations

from datetime import timedelta

from aiogram.methods import SetMyCommands

from bot.commands import COMMANDS, commands_for, role_for
from storage.invites import create_invite, revoke_invite
from storage.merchants import find_merchant
from storage.tables import User, Watch, utcnow
from tests.conftest import ADMIN_ID
from tests.factories import add_product
from tests.harness import texts

STREAMER, OTHER = 111, 444


def menus(requests) -> list[SetMyCommands]:
    return [r for r in requests if isinstance(r, SetMyCommands)]


def test_commands_of_roles_add_up_and_admins_need_not_bind() -> None:
    streamer = commands_for({"streamer"})
    both = commands_for({"streamer", "merchant"})
    assert "picks" in streamer and "mygoods" not in streamer
    assert set(streamer) < set(both) and "mygoods" in both and "samplerule" in both
    assert len(both) == len(set(both))  # /samples is in both tables, listed once
    admin = commands_for({"streamer", "admin"})
    assert "invite" in admin and "bind" not in admin
    assert role_for("mygoods") == "merchant" and role_for("invite") == "admin" and role_for("nope") is None
    assert all(cmd.islower() and len(cmd) <= 32 for cmds in COMMANDS.values() for cmd in cmds)


async def _invite(services, code_for: str = "M-A", *, minutes_ago: float = 0):
    async with services.sessionmaker() as session:
        merchant = await find_merchant(code_for, session=session)
        assert merchant is not None
        invite = await create_invite(
            merchant, created_by=ADMIN_ID, now=utcnow() - timedelta(minutes=minutes_ago), session=session
        )
        await session.commit()
    return invite.code


async def test_binding_keeps_everything_a_streamer_had(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-1", merchant="M-A")
        await session.commit()
    await chat.message(STREAMER, "/start")
    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
        assert user is not None
        user.chosen_categories, user.digest_time = "美妆个护", "08:30"
        session.add(Watch(telegram_id=STREAMER, kind="brand", target="测试"))
        await session.commit()

    code = await _invite(services)
    sent = await chat.message(STREAMER, f"/bind {code}")
    assert "已绑定商家" in texts(sent)[0] and "照常保留" in texts(sent)[0]
    [menu] = menus(sent)  # the menu now holds both roles' commands
    names = [c.command for c in menu.commands]
    assert {"picks", "digest", "watch", "mygoods", "samples"} <= set(names)
    assert menu.scope.type == "chat" and menu.scope.chat_id == STREAMER

    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
        assert user is not None and user.merchant_id is not None
        assert (user.chosen_categories, user.digest_time, user.digest_enabled) == ("美妆个护", "08:30", True)
    # Streamer commands still answer (not "no such command") and merchant ones now work too.
    picks = "\n".join(texts(await chat.message(STREAMER, "/picks")))
    assert "没有这个命令" not in picks and "今日选品" in picks
    watches = "\n".join(texts(await chat.message(STREAMER, "/watch")))
    assert "测试" in watches
    assert "SKU-1" in "\n".join(texts(await chat.message(STREAMER, "/mygoods")))
    help_text = texts(await chat.message(STREAMER, "/help"))[0]
    assert "/picks" in help_text and "/mygoods" in help_text and "/invite" not in help_text


async def test_menu_and_help_follow_the_roles_in_the_users_language(chat) -> None:
    sent = await chat.message(STREAMER, "/start", lang="en")
    [menu] = menus(sent)
    names = [c.command for c in menu.commands]
    assert names == commands_for({"streamer"}) and "mygoods" not in names
    assert any(c.description == "today's picks" for c in menu.commands)  # English descriptions
    zh = menus(await chat.message(OTHER, "/start"))[0]
    assert any(c.description == "今日推荐" for c in zh.commands)
    admin = menus(await chat.message(ADMIN_ID, "/start", lang="en"))[0]
    admin_names = [c.command for c in admin.commands]
    assert "invite" in admin_names and "stats" in admin_names and "bind" not in admin_names
    assert any(c.description == "statistics" for c in admin.commands)
    help_en = texts(await chat.message(STREAMER, "/help", lang="en"))[0]
    assert "/picks — today's picks" in help_en and "/mygoods" not in help_en


async def test_a_command_of_a_missing_role_says_which_role_and_how(chat) -> None:
    reply = texts(await chat.message(STREAMER, "/samplerule"))[0]
    assert "没有这个命令" not in reply and "商家" in reply and "/bind" in reply
    reply_en = texts(await chat.message(STREAMER, "/samplerule", lang="en"))[0]
    assert "merchant" in reply_en and "/bind CODE" in reply_en
    unknown = texts(await chat.message(STREAMER, "/frobnicate"))[0]
    assert "没有这个命令" in unknown  # a command no role has is still unknown


async def test_invite_codes_say_the_true_reason(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-1", merchant="M-A")
        await session.commit()
    assert "不存在" in texts(await chat.message(STREAMER, "/bind ZZZZ2222"))[0]

    revoked = await _invite(services, minutes_ago=1)
    async with services.sessionmaker() as session:
        await revoke_invite(revoked, session=session)
        await session.commit()
    reply = texts(await chat.message(STREAMER, f"/bind {revoked}"))[0]
    assert "作废" in reply and "过期" not in reply

    expired = await _invite(services, minutes_ago=8 * 24 * 60)
    assert "过期" in texts(await chat.message(STREAMER, f"/bind {expired}"))[0]

    code = await _invite(services)
    assert "已绑定商家" in texts(await chat.message(STREAMER, f"/bind {code}"))[0]
    again = texts(await chat.message(STREAMER, f"/bind {code}"))[0]
    assert "使用过" in again and "未被使用" not in again
    other = texts(await chat.message(OTHER, f"/bind {code}", lang="en"))[0]
    assert "used already" in other


async def test_start_offers_the_category_chooser_to_a_streamer_with_nothing_known(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "SKU-1", category="美妆个护")
        await add_product(session, "SKU-2", category="食品饮料")
        await session.commit()
    sent = await chat.message(STREAMER, "/start")
    first = sent[0]
    labels = [b.text for row in first.reply_markup.inline_keyboard for b in row]
    assert "美妆个护" in labels and "食品饮料" in labels
    # Once a category is chosen, /start no longer asks.
    async with services.sessionmaker() as session:
        user = await session.get(User, STREAMER)
        assert user is not None
        user.chosen_categories = "美妆个护"
        await session.commit()
    again = (await chat.message(STREAMER, "/start"))[0]
    assert again.reply_markup is None
