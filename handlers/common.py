"""/start, /help, and the answer to a command nobody handles."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.render import h
from handlers.filters import AnyCommand
from storage.merchants import merchant_name
from storage.users import ADMIN, MERCHANT, STREAMER, Viewer, register

# Which commands each role may use, in the order /help lists them.
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
        "profile",
        "bind",
    ),
    MERCHANT: ("start", "help", "search", "grade", "mygoods", "match", "offer"),
    ADMIN: (
        "start",
        "help",
        "search",
        "grade",
        "mygoods",
        "match",
        "offer",
        "import",
        "invite",
        "regrade",
        "stats",
    ),
}


def help_text(role: str, lang: str) -> str:
    lines = [t("help.title", lang)]
    lines += [f"/{cmd} — {t(f'cmd.{cmd}', lang)}" for cmd in COMMANDS[role]]
    lines += ["", t("help.footer", lang)]
    return "\n".join(lines)


async def start(message: Message, session: AsyncSession, viewer: Viewer) -> None:
    tg = message.from_user
    assert tg is not None
    user, was_inactive = await register(
        tg.id, name=tg.full_name, username=tg.username, language=viewer.lang, session=session
    )
    name = h(tg.first_name or tg.full_name)
    if viewer.role == ADMIN:
        text = t("start.admin", viewer.lang, name=name)
    elif user.role == MERCHANT and user.merchant_id is not None:
        merchant = await merchant_name(user.merchant_id, session=session)
        text = t("start.merchant", viewer.lang, name=name, merchant=h(merchant or ""))
    else:
        text = t("start.streamer", viewer.lang, name=name)
    if was_inactive:
        text += "\n\n" + t("start.again", viewer.lang)
    await message.answer(text)


async def help_(message: Message, viewer: Viewer) -> None:
    await message.answer(help_text(viewer.role, viewer.lang))


async def unknown_command(message: Message, viewer: Viewer, bot: Bot) -> None:
    command = (message.text or "").split()[0]
    if message.chat.type != "private":
        # In groups, stay quiet about commands meant for other bots (or for nobody in particular).
        mention = command.partition("@")[2].lower()
        if not mention or mention != ((await bot.me()).username or "").lower():
            return
    await message.answer(t("unknown.command", viewer.lang, command=h(command[:64])))


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.message.register(help_, Command("help"))
    return router


def make_fallback_router() -> Router:
    """Registered last: any command no other router took."""
    router = Router(name=f"{__name__}.fallback")
    router.message.register(unknown_command, AnyCommand())
    return router
