"""Samples (寄样): the card's 申请样品 button, 同意/拒绝/已寄出/已收到 on a request, /samples, /samplerule.

Every press goes through storage.samples.move, which acts only for the request's streamer or a user
of its merchant and only from the state the action needs: a forged or replayed button does nothing.
A rejection's reason and a shipment's tracking number are the presser's next text message (FSM).
"""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import Prefixed
from bot.render import h, money, split_message
from bot.samples import (
    APPROVE,
    CANCEL,
    RECEIVE,
    REJECT,
    REQUEST,
    SHIP,
    SampleCb,
    actions_keyboard,
    sample_line,
    sample_text,
    status_text,
)
from bot.settings import Settings
from core.samples import Action, Party, allowed
from handlers.filters import PlainText, RoleFilter
from handlers.replies import edit_in_place
from storage import samples
from storage.samples import Limits, Refusal, SampleView
from storage.users import ADMIN, MERCHANT, Viewer

logger = logging.getLogger(__name__)

TRACKING_MAX = 64
REASON_MAX = 300
ACTIONS = {
    APPROVE: Action.APPROVE,
    REJECT: Action.REJECT,
    SHIP: Action.SHIP,
    RECEIVE: Action.RECEIVE,
    CANCEL: Action.CANCEL,
}
# What the other side is told after each move, and who that is.
TOLD = {
    Action.APPROVE: ("sample.approved", Party.STREAMER),
    Action.REJECT: ("sample.rejected", Party.STREAMER),
    Action.SHIP: ("sample.shipped", Party.STREAMER),
    Action.RECEIVE: ("sample.received", Party.MERCHANT),
    Action.CANCEL: ("sample.cancelled", Party.MERCHANT),
}


class SampleInput(StatesGroup):
    reason = State()
    tracking = State()


def limits_of(settings: Settings) -> Limits:
    return Limits(max_open=settings.sample_max_open, per_product_day=settings.sample_per_product_day)


async def _send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Tell the other side; an unreachable chat must not undo the presser's move."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as exc:
        logger.info("sample notice to %s not sent: %s", chat_id, exc)


async def tell(bot: Bot, session: AsyncSession, view: SampleView, key: str, party: Party) -> None:
    """Send `key` about the request to `party` (the streamer, or every user of the merchant)."""
    if party == Party.STREAMER:
        lang = await samples.user_language(view.streamer_id, session=session)
        await _send(bot, view.streamer_id, sample_text(key, view, lang), actions_keyboard(view, party, lang))
        return
    for telegram_id, lang in await samples.party_ids(view.merchant_id, session=session):
        await _send(bot, telegram_id, sample_text(key, view, lang), actions_keyboard(view, party, lang))


# --------------------------------------------------------------------------- asking


async def request_pressed(
    query: CallbackQuery,
    callback_data: SampleCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    lang = viewer.lang
    result = await samples.request_sample(
        callback_data.id,
        streamer_id=viewer.telegram_id,
        streamer_merchant_id=viewer.merchant_id,
        limits=limits_of(settings),
        session=session,
    )
    if result.view is None:
        owner = ("", "")
        if result.refusal == Refusal.RULE:
            owner = await samples.product_owner(callback_data.id, session=session)
        await query.answer(_refusal_text(result, lang, owner=owner), show_alert=True)
        return
    view = result.view
    await query.answer()
    await bot.send_message(
        viewer.telegram_id,
        sample_text("sample.sent", view, lang),
        reply_markup=actions_keyboard(view, Party.STREAMER, lang),
    )
    await tell(bot, session, view, "sample.incoming", Party.MERCHANT)


def _refusal_text(result: samples.Requested, lang: str, *, owner: tuple[str, str]) -> str:
    refusal = result.refusal
    if refusal == Refusal.DUPLICATE:
        return t("sample.refused_duplicate", lang, id=result.existing_id)
    if refusal in (Refusal.TOO_MANY, Refusal.PRODUCT_DAY):
        return t(f"sample.refused_{refusal}", lang, n=int(result.needed))
    if refusal == Refusal.RULE:
        merchant, category = owner
        merchant, category = h(merchant), h(category)
        return t(
            "sample.refused_rule",
            lang,
            merchant=merchant,
            category=category,
            needed=money(result.needed),
            have=money(result.have),
        )
    return t(f"sample.refused_{refusal or Refusal.GONE}", lang)


# --------------------------------------------------------------------------- answering


async def action_pressed(
    query: CallbackQuery,
    callback_data: SampleCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    state: FSMContext,
) -> None:
    lang = viewer.lang
    action = ACTIONS[callback_data.action]
    if action in (Action.REJECT, Action.SHIP):
        # These need a text first: check now that the presser may, then ask for it.
        view = await samples.get_request(callback_data.id, session=session)
        if view is None or viewer.merchant_id is None or view.merchant_id != viewer.merchant_id:
            await query.answer(t("sample.not_allowed", lang), show_alert=True)
            return
        if not allowed(action, view.status, Party.MERCHANT):
            await query.answer(
                t("sample.state_moved", lang, id=view.id, status=status_text(view.status, lang)),
                show_alert=True,
            )
            return
        await state.set_state(SampleInput.reason if action == Action.REJECT else SampleInput.tracking)
        await state.update_data(sample_id=view.id)
        await query.answer()
        key = "sample.ask_reason" if action == Action.REJECT else "sample.ask_tracking"
        await bot.send_message(viewer.telegram_id, t(key, lang, id=view.id))
        return
    await _apply(query, bot, session, viewer, callback_data.id, action)


async def _apply(
    query: CallbackQuery | None,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    request_id: int,
    action: Action,
    *,
    tracking: str | None = None,
    reason: str | None = None,
) -> bool:
    lang = viewer.lang
    moved = await samples.move(
        request_id,
        action,
        telegram_id=viewer.telegram_id,
        merchant_id=viewer.merchant_id,
        tracking=tracking,
        reason=reason,
        session=session,
    )
    if moved.view is None:
        text = t("sample.not_allowed", lang)
    elif not moved.ok:
        text = t("sample.state_moved", lang, id=moved.view.id, status=status_text(moved.view.status, lang))
    else:
        text = ""
    if text:
        if query is not None:
            await query.answer(text, show_alert=True)
        else:
            await bot.send_message(viewer.telegram_id, text)
        return False
    view = moved.view
    assert view is not None
    key, other = TOLD[action]
    me = Party.STREAMER if other == Party.MERCHANT else Party.MERCHANT
    done = sample_text(f"sample.done_{action}", view, lang)
    markup = actions_keyboard(view, me, lang)
    if query is not None:
        await query.answer()
        if not await edit_in_place(query.message, done, markup):
            await bot.send_message(viewer.telegram_id, done, reply_markup=markup)
    else:
        await bot.send_message(viewer.telegram_id, done, reply_markup=markup)
    await tell(bot, session, view, key, other)
    return True


async def reason_given(
    message: Message, bot: Bot, session: AsyncSession, viewer: Viewer, state: FSMContext
) -> None:
    reason = (message.text or "").strip()
    if not 0 < len(reason) <= REASON_MAX:
        await message.answer(t("sample.bad_reason", viewer.lang))
        return
    request_id = int((await state.get_data()).get("sample_id", 0))
    await state.clear()
    await _apply(None, bot, session, viewer, request_id, Action.REJECT, reason=reason)


async def tracking_given(
    message: Message, bot: Bot, session: AsyncSession, viewer: Viewer, state: FSMContext
) -> None:
    tracking = (message.text or "").strip()
    if not 0 < len(tracking) <= TRACKING_MAX:
        await message.answer(t("sample.bad_tracking", viewer.lang))
        return
    request_id = int((await state.get_data()).get("sample_id", 0))
    await state.clear()
    await _apply(None, bot, session, viewer, request_id, Action.SHIP, tracking=tracking)


async def stale_button(query: CallbackQuery, viewer: Viewer) -> None:
    """A forged or malformed sample button: nothing happens."""
    await query.answer(t("sample.not_allowed", viewer.lang), show_alert=True)


# --------------------------------------------------------------------------- lists and rules


async def samples_command(message: Message, session: AsyncSession, viewer: Viewer) -> None:
    lang = viewer.lang
    parts: list[str] = []
    if viewer.merchant_id is not None:
        incoming = await samples.for_merchant(viewer.merchant_id, session=session)
        parts.append(t("samples.title_merchant", lang))
        parts += [sample_line(v, lang) for v in incoming] or [t("samples.none_merchant", lang)]
        parts.append("")
    mine = await samples.for_streamer(viewer.telegram_id, session=session)
    if mine or viewer.merchant_id is None:
        parts.append(t("samples.title_streamer", lang))
        parts += [sample_line(v, lang) for v in mine] or [t("samples.none_streamer", lang)]
    for chunk in split_message("\n".join(parts).strip()):
        await message.answer(chunk)


async def samplerule_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    merchant_id = viewer.merchant_id
    if merchant_id is None:  # an admin without a merchant of their own
        await message.answer(
            t(
                "role.needed",
                lang,
                command="/samplerule",
                role=t("role.merchant", lang),
                how=t("role.how_merchant", lang),
            )
        )
        return
    args = (command.args or "").split()
    if len(args) < 2:
        rules = await samples.rules_of(merchant_id, session=session)
        lines = [t("samplerule.list", lang)] if rules else [t("samplerule.none", lang)]
        lines += [t("samplerule.line", lang, category=h(c), min=money(m)) for c, m in rules]
        lines += ["", t("samplerule.usage", lang)]
        await message.answer("\n".join(lines))
        return
    category, amount = " ".join(args[:-1]), args[-1]
    minimum: float | None
    if amount.lower() in ("off", "0", "关", "取消"):
        minimum = None
    else:
        try:
            minimum = float(amount.replace(",", "").lstrip("¥"))
        except ValueError:
            minimum = -1.0
        if not minimum >= 0:  # also refuses nan
            await message.answer(t("samplerule.bad_amount", lang, amount=h(amount[:32])))
            return
    if not await samples.set_rule(merchant_id, category, minimum, session=session):
        names = t("list.separator", lang).join(h(n) for n in await samples.category_names(session=session))
        await message.answer(t("samplerule.no_category", lang, category=h(category[:64]), categories=names))
        return
    key = "samplerule.cleared" if minimum is None else "samplerule.saved"
    await message.answer(t(key, lang, category=h(category), min=money(minimum or 0)))


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.register(samples_command, Command("samples"))
    router.callback_query.register(request_pressed, SampleCb.filter(F.action == REQUEST))
    router.callback_query.register(action_pressed, SampleCb.filter())
    router.callback_query.register(stale_button, Prefixed(SampleCb.__prefix__))
    router.message.register(reason_given, StateFilter(SampleInput.reason), PlainText())
    router.message.register(tracking_given, StateFilter(SampleInput.tracking), PlainText())

    merchants = Router(name=f"{__name__}.merchants")
    merchants.message.filter(RoleFilter(MERCHANT, ADMIN))
    merchants.message.register(samplerule_command, Command("samplerule"))
    router.include_router(merchants)
    return router
