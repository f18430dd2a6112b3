"""/push (admins): a targeted recommendation (官方小二定向推荐) with a preview, a count and a confirm button.

`/push SKU1,SKU2 [gap=品类 | mix=品类]` checks the goods (L4+, at most 5) and the segment, and answers
with the preview: whom it reaches, how many, and the message itself, under 确认发送 / 取消. Confirming
starts the push in the background (jobs/push.py through `Services.start_push`); the admin is told the
result. Everything is behind `RoleFilter(ADMIN)` on messages and callbacks: a forged confirm from
anyone else is refused and sends nothing.
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import Prefixed
from bot.picks import picks_context
from bot.push import (
    CANCEL,
    CONFIRM,
    PushCb,
    PushRefused,
    parse_segment,
    plan_push,
    preview_keyboard,
    preview_text,
)
from bot.services import Services
from core.push import MAX_GOODS, parse_skus
from handlers.admin import admins_only, admins_only_button, stale_admin_button
from handlers.filters import RoleFilter
from storage import push as pushes
from storage.users import ADMIN, Viewer

logger = logging.getLogger(__name__)


def split_args(args: str) -> tuple[list[str], str]:
    """`A,B C gap=美妆` -> (["A", "B", "C"], "gap=美妆"): words with `=` name the segment."""
    words = args.split()
    segment = " ".join(w for w in words if "=" in w or "＝" in w)
    skus = parse_skus(",".join(w for w in words if "=" not in w and "＝" not in w))
    return skus, segment


async def push_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    viewer: Viewer,
) -> None:
    lang = viewer.lang
    args = (command.args or "").strip()
    if not args:
        await message.answer(t("push.usage", lang, n=MAX_GOODS))
        return
    skus, segment_arg = split_args(args)
    try:
        segment = parse_segment(segment_arg)
        context = await picks_context(sessionmaker)
        plan = await plan_push(session, context, skus, segment, created_by=viewer.telegram_id)
    except PushRefused as refused:
        await message.answer(refused.text(lang) + "\n\n" + t("push.usage", lang, n=MAX_GOODS))
        return
    await message.answer(preview_text(plan, lang), reply_markup=preview_keyboard(plan.push.id, lang))


async def push_pressed(
    query: CallbackQuery,
    callback_data: PushCb,
    bot: Bot,
    session: AsyncSession,
    services: Services,
    viewer: Viewer,
) -> None:
    lang = viewer.lang
    push = await pushes.get_push(callback_data.id, session=session)
    if push is None:
        await query.answer(t("push.gone", lang), show_alert=True)
        return
    await _drop_buttons(query)
    if callback_data.action == CANCEL:
        await query.answer()
        await bot.send_message(viewer.telegram_id, t("push.cancelled", lang))
        return
    assert callback_data.action == CONFIRM
    await query.answer()
    await bot.send_message(viewer.telegram_id, t("push.started", lang, id=push.id))
    services.start_push(bot, push.id, admin_chat=viewer.telegram_id, lang=lang)


async def _drop_buttons(query: CallbackQuery) -> None:
    """The preview's buttons go once pressed, so one tap is one decision."""
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest as exc:
            logger.info("could not remove the push buttons: %s", exc.message)


def make_router() -> Router:
    router = Router(name=__name__)

    guarded = Router(name=f"{__name__}.guarded")
    guarded.message.filter(RoleFilter(ADMIN))
    guarded.callback_query.filter(RoleFilter(ADMIN))
    guarded.message.register(push_command, Command("push"))
    guarded.callback_query.register(push_pressed, PushCb.filter(F.action.in_({CONFIRM, CANCEL})))
    guarded.callback_query.register(stale_admin_button, Prefixed(PushCb.__prefix__))

    refusals = Router(name=f"{__name__}.refusals")
    refusals.message.register(admins_only, Command("push"))
    refusals.callback_query.register(admins_only_button, Prefixed(PushCb.__prefix__))

    router.include_routers(guarded, refusals)
    return router
