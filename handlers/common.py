"""/start, /help, and the answer to a command nobody handles (or one of a role the user lacks)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import BaseFilter, Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import help_text, role_for, set_menu
from bot.i18n import t
from bot.render import h
from bot.services import Services
from handlers.filters import AnyCommand
from handlers.leaders import TEAM_PREFIX, join_from_link
from handlers.picks import chooser_keyboard
from storage import profiles, sales
from storage.merchants import merchant_name
from storage.users import Viewer, register


async def start(
    message: Message,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    services: Services,
    command: CommandObject | None = None,
) -> None:
    tg = message.from_user
    assert tg is not None
    user, was_inactive = await register(
        tg.id, name=tg.full_name, username=tg.username, language=viewer.lang, session=session
    )
    name = h(tg.first_name or tg.full_name)
    markup: InlineKeyboardMarkup | None = None
    if viewer.is_admin:
        text = t("start.admin", viewer.lang, name=name)
    elif user.merchant_id is not None:
        merchant = await merchant_name(user.merchant_id, session=session)
        text = t("start.merchant", viewer.lang, name=name, merchant=h(merchant or ""))
    else:
        text = t("start.streamer", viewer.lang, name=name)
        # A streamer we know nothing about: ask what they sell, or their first picks are the average.
        if not user.chosen_categories and not await sales.streamer_sales(tg.id, session=session):
            cats = await sales.categories(session=session)
            if cats:
                text += "\n\n" + t("start.choose_categories", viewer.lang)
                markup = chooser_keyboard(cats, profiles.split_list(user.chosen_categories), viewer.lang)
    if was_inactive:
        text += "\n\n" + t("start.again", viewer.lang)
    await message.answer(text, reply_markup=markup)
    if message.chat.type == "private":
        await set_menu(bot, tg.id, viewer.roles, viewer.lang)
    arg = (command.args or "") if command is not None else ""
    if arg.startswith(TEAM_PREFIX) and message.chat.type == "private":  # t.me/<bot>?start=team_<code>
        await join_from_link(message, arg, session, services, viewer)


async def help_(message: Message, viewer: Viewer) -> None:
    await message.answer(help_text(viewer.roles, viewer.lang))


async def unknown_command(message: Message, viewer: Viewer, bot: Bot) -> None:
    command = (message.text or "").split()[0]
    if message.chat.type != "private":
        # In groups, stay quiet about commands meant for other bots (or for nobody in particular).
        mention = command.partition("@")[2].lower()
        if not mention or mention != ((await bot.me()).username or "").lower():
            return
    name = command[1:].partition("@")[0].lower()
    role = role_for(name)
    if role is not None and not viewer.has(role):
        # The command exists; the user lacks its role: say which, and how to get it.
        text = t(
            "role.needed",
            viewer.lang,
            command=h(command[:64]),
            role=t(f"role.{role}", viewer.lang),
            how=t(f"role.how_{role}", viewer.lang),
        )
        await message.answer(text)
        return
    await message.answer(t("unknown.command", viewer.lang, command=h(command[:64])))


class WaitingForInput(BaseFilter):
    """The bot waits for this user's text (a tracking number, a reason...) and they sent a command
    other than /cancel (which the waiting feature answers itself)."""

    async def __call__(self, message: Message, state: FSMContext) -> bool:
        text = message.text or ""
        command = text.split(maxsplit=1)[0].split("@")[0] if text.startswith("/") else ""
        return bool(command) and command != "/cancel" and await state.get_state() is not None


async def end_waiting(message: Message, state: FSMContext) -> None:
    """A command ends the wait, so the next plain text is not taken as the awaited answer."""
    await state.clear()
    raise SkipHandler  # and the command goes on to its own handler


def make_wait_router() -> Router:
    """Registered first: a command sent while the bot waits for an answer ends that wait."""
    router = Router(name=f"{__name__}.wait")
    router.message.register(end_waiting, WaitingForInput())
    return router


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
