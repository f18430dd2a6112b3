"""Which commands each role has: /help, the per-user Telegram menu and the "needs a role" answer.

This table is the one place to add a command. Roles add up: a user's commands are the ordered
union of the commands of every role they hold (storage.users.roles_of says which).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.i18n import t
from storage.users import ADMIN, LEADER, MERCHANT, STREAMER

logger = logging.getLogger(__name__)

# role -> its commands, in the order /help and the menu list them.
COMMANDS: dict[str, tuple[str, ...]] = {
    STREAMER: (
        "start",
        "help",
        "search",
        "grade",
        "picks",
        "categories",
        "digest",
        "tz",
        "watch",
        "samples",
        "profile",
        "team",
        "bind",
    ),
    LEADER: ("activity", "team"),
    MERCHANT: ("mygoods", "match", "offer", "samples", "samplerule", "activity"),
    ADMIN: ("mygoods", "match", "offer", "import", "invite", "invite_leader", "push", "regrade", "stats"),
}
ROLE_ORDER = (STREAMER, LEADER, MERCHANT, ADMIN)  # whose commands come first in a union
NOT_FOR: dict[str, frozenset[str]] = {ADMIN: frozenset({"bind"})}  # admins need not bind


def commands_for(roles: Iterable[str]) -> list[str]:
    """Every command of the roles held, each once, in table order."""
    held = set(roles)
    dropped = set().union(*(NOT_FOR.get(role, frozenset()) for role in held))
    out: list[str] = []
    for role in ROLE_ORDER:
        if role in held:
            out += [c for c in COMMANDS[role] if c not in out and c not in dropped]
    return out


def role_for(command: str) -> str | None:
    """The first role whose table has `command` (None: no role has it)."""
    return next((role for role in ROLE_ORDER if command in COMMANDS[role]), None)


def menu(roles: Iterable[str], lang: str) -> list[BotCommand]:
    return [BotCommand(command=c, description=t(f"cmd.{c}", lang)[:256]) for c in commands_for(roles)]


def help_text(roles: Iterable[str], lang: str) -> str:
    lines = [t("help.title", lang)]
    lines += [f"/{cmd} — {t(f'cmd.{cmd}', lang)}" for cmd in commands_for(roles)]
    lines += ["", t("help.footer", lang)]
    return "\n".join(lines)


async def set_menu(bot: Bot, chat_id: int, roles: Iterable[str], lang: str) -> bool:
    """This user's menu: exactly the commands of their roles, in their language.

    A menu that cannot be set must not fail the reply it follows, so errors are logged only.
    """
    try:
        await bot.set_my_commands(menu(roles, lang), scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramAPIError as exc:
        logger.info("could not set the menu of %s: %s", chat_id, exc)
        return False
    return True


async def set_default_menus(bot: Bot, admin_ids: Iterable[int]) -> None:
    """At start-up: the streamer menu for everyone, and the admin menu in zh and en for each admin."""
    for lang_code, lang in ((None, "zh"), ("en", "en")):
        await bot.set_my_commands(
            menu({STREAMER}, lang), scope=BotCommandScopeDefault(), language_code=lang_code
        )
    for admin_id in admin_ids:
        for lang_code, lang in ((None, "zh"), ("en", "en")):
            await bot.set_my_commands(
                menu({STREAMER, ADMIN}, lang),
                scope=BotCommandScopeChat(chat_id=admin_id),
                language_code=lang_code,
            )
