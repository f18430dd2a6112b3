"""团长: /invite_leader (admins), team links and /team, /leave_team, and activities (/activity).

A 团长 creates an activity in a short guided chat (FSM: name → period → floors → tier → confirm,
/cancel or the button at any step). Merchants see open activities for their categories and submit
goods (buttons, or `/activity ID SKU [RATE]`); the 团长 approves or rejects with buttons, a reason
on rejection being their next message. Every press is checked again in storage: a 团长 decides
only their own activities' submissions, a merchant submits only their own goods. A 团长 sees
their team as names and GMV bands, never figures.
"""

from __future__ import annotations

import logging
from datetime import date

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import Prefixed, valid_id
from bot.leaders import floors_text, tiers_text
from bot.match import band_text
from bot.render import category_name, h, local_time, percent, split_message
from bot.services import Services
from bot.settings import Settings
from core.activities import (
    Floor,
    Mark,
    ParseError,
    Refusal,
    parse_floors,
    parse_min_tier,
    parse_name,
    parse_period,
    parse_rate,
)
from core.catalog import TIERS
from core.schedule import local_today
from handlers.filters import PlainText, RoleFilter
from handlers.guesses import guess_allowed
from handlers.replies import edit_in_place, viewer_zone
from storage import activities, leaders
from storage.activities import ActivityView, SubmissionView, SubmitStatus
from storage.catalog import get_product
from storage.leaders import LeaderBind, LeaderBindResult
from storage.regrade import normalise_sku
from storage.tables import utcnow
from storage.users import ADMIN, LEADER, MERCHANT, Viewer, alert_recipients

logger = logging.getLogger(__name__)

TEAM_PREFIX = "team_"
REASON_MAX = 300
MEMBERS_SHOWN = 30


class ActCb(CallbackData, prefix="ac"):
    """An activity button: new/cancel/create/notier (the guided chat), show/pick (an activity id),
    sub (activity id + product id), ok/no (a submission id)."""

    action: str
    id: int = 0
    p: int = 0


class TeamCb(CallbackData, prefix="tm"):
    action: str


class ActivityForm(StatesGroup):
    name = State()
    period = State()
    floors = State()
    tier = State()
    confirm = State()


class RejectInput(StatesGroup):
    reason = State()


def _markup(*rows: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=list(rows))


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _cancel_row(lang: str) -> list[InlineKeyboardButton]:
    return [_button(t("activity.btn_cancel", lang), ActCb(action="cancel"))]


def _today(viewer: Viewer, settings: Settings) -> date:
    return local_today(utcnow(), viewer_zone(viewer, settings))


async def viewer_mark(viewer: Viewer, sku: str, settings: Settings, session: AsyncSession) -> Mark | None:
    """The viewer's team activity on a product (for their private chat only), if any."""
    if viewer.team_id is None:  # no team, no activity marks: most searches need no query for them
        return None
    return await activities.mark_of(viewer.telegram_id, sku, today=_today(viewer, settings), session=session)


async def viewer_marks(viewer: Viewer, settings: Settings, session: AsyncSession) -> dict[str, Mark]:
    if viewer.team_id is None:
        return {}
    marks = await activities.marks_for([viewer.telegram_id], today=_today(viewer, settings), session=session)
    return marks.get(viewer.telegram_id, {})


async def _send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Tell the other side; an unreachable chat must not undo the presser's move."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as exc:
        logger.info("activity notice to %s not sent: %s", chat_id, exc)


# --------------------------------------------------------------------------- /invite_leader, /bind


async def invite_leader_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    name = " ".join((command.args or "").split())[:100]
    if not name:
        await message.answer(t("leader.invite_usage", lang))
        return
    invite = await leaders.create_leader(name, created_by=viewer.telegram_id, session=session)
    zone = viewer_zone(viewer, settings)
    expires = f"{local_time(invite.expires_at, zone)} ({h(zone.key)})"
    await message.answer(t("leader.invite_created", lang, leader=h(name), code=invite.code, expires=expires))


def leader_bind_text(result: LeaderBindResult, code: str, lang: str) -> str:
    """The reply to /bind with a leader code (storage.leaders.bind_leader's result)."""
    leader = h(result.leader.name)
    if result.status in (LeaderBind.BOUND, LeaderBind.ALREADY, LeaderBind.USED_BY_YOU):
        return t(f"leader.{result.status.value}", lang, leader=leader, code=h(code[:32]))
    return t(f"leader.{result.status.value}", lang, code=h(code[:32]))


# --------------------------------------------------------------------------- teams


async def join_from_link(
    message: Message, arg: str, session: AsyncSession, services: Services, viewer: Viewer
) -> None:
    """`/start team_<code>` (after /start registered the user): join that 团长's team."""
    if not await guess_allowed(message, services, viewer, "team"):
        return
    result = await leaders.join_team(arg[len(TEAM_PREFIX) :], telegram_id=viewer.telegram_id, session=session)
    lang = viewer.lang
    if result.leader is None:
        await message.answer(t("team.unknown", lang))
        return
    previous = h(result.previous.name) if result.previous else ""
    await message.answer(
        t(f"team.{result.status.value}", lang, leader=h(result.leader.name), previous=previous)
    )


async def team_link(bot: Bot, team_code: str) -> str:
    me = await bot.me()
    return f"https://t.me/{me.username}?start={TEAM_PREFIX}{team_code}"


async def team_command(message: Message, bot: Bot, session: AsyncSession, viewer: Viewer) -> None:
    lang = viewer.lang
    parts: list[str] = []
    markup = None
    if viewer.leader_id is not None:
        leader = await leaders.get_leader(viewer.leader_id, session=session)
        assert leader is not None
        total, members = await leaders.team_members(leader.id, limit=MEMBERS_SHOWN, session=session)
        lines = [t("team.leader_title", lang, leader=h(leader.name), total=total)]
        lines.append(t("team.link", lang, link=h(await team_link(bot, leader.team_code))))
        lines.append("")
        if not members:
            lines.append(t("team.empty", lang))
        lines += [
            t("team.member", lang, name=h(m.name or str(m.telegram_id)), band=band_text(m.gmv_band, lang))
            for m in members
        ]
        if total > len(members):
            lines.append(t("team.more", lang, n=total - len(members)))
        parts.append("\n".join(lines))
    mine = await leaders.team_of(viewer.telegram_id, session=session)
    if mine is not None:
        parts.append(t("team.yours", lang, leader=h(mine.name)))
        markup = _markup([_button(t("team.leave_button", lang), TeamCb(action="leave"))])
    elif viewer.leader_id is None:
        parts.append(t("team.no_team", lang))
    for i, chunk in enumerate(chunks := split_message("\n\n".join(parts))):
        await message.answer(chunk, reply_markup=markup if i == len(chunks) - 1 else None)


async def _leave(viewer: Viewer, session: AsyncSession) -> str:
    left = await leaders.leave_team(viewer.telegram_id, session=session)
    if left is None:
        return t("team.not_in", viewer.lang)
    return t("team.left", viewer.lang, leader=h(left.name))


async def leave_command(message: Message, session: AsyncSession, viewer: Viewer) -> None:
    await message.answer(await _leave(viewer, session))


async def leave_pressed(query: CallbackQuery, session: AsyncSession, viewer: Viewer) -> None:
    text = await _leave(viewer, session)
    await query.answer()
    if not await edit_in_place(query.message, text, None) and query.message is not None:
        await query.message.answer(text)


# --------------------------------------------------------------------------- /activity


async def activity_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    state: FSMContext,
) -> None:
    lang = viewer.lang
    args = (command.args or "").split()
    if args and args[0].lower() in ("new", "新建") and viewer.leader_id is not None:
        await _start_form(message, session, state, lang)
        return
    if args and viewer.merchant_id is not None:
        await _submit_by_text(message, args, bot, session, viewer, settings)
        return
    today = _today(viewer, settings)
    if viewer.leader_id is not None:
        text, markup = await _leader_list(viewer.leader_id, today, session, lang)
        await message.answer(text, reply_markup=markup)
    if viewer.merchant_id is not None:
        text, offers = await _merchant_list(viewer.merchant_id, today, session, lang)
        await message.answer(text, reply_markup=offers)


async def _leader_list(
    leader_id: int, today: date, session: AsyncSession, lang: str
) -> tuple[str, InlineKeyboardMarkup]:
    leader = await leaders.get_leader(leader_id, session=session)
    mine = await activities.leader_activities(leader_id, session=session)
    counts = await activities.counts([a.id for a in mine], session=session)
    lines = [t("activity.leader_title", lang, leader=h(leader.name if leader else ""))]
    rows = []
    if not mine:
        lines.append(t("activity.leader_none", lang))
    for a in mine[:20]:
        submitted, approved = counts.get(a.id, (0, 0))
        lines.append(
            t(
                "activity.line",
                lang,
                id=a.id,
                name=h(a.name),
                starts=a.starts.isoformat(),
                ends=a.ends.isoformat(),
                state=t(f"activity.state.{a.state(today).value}", lang),
                submitted=submitted,
                approved=approved,
            )
        )
        rows.append(_button(t("activity.btn_show", lang, id=a.id), ActCb(action="show", id=a.id)))
    keyboard = [rows[i : i + 3] for i in range(0, len(rows), 3)]
    keyboard.append([_button(t("activity.btn_new", lang), ActCb(action="new"))])
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=keyboard)


async def _merchant_list(
    merchant_id: int, today: date, session: AsyncSession, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    found = await activities.open_for_merchant(merchant_id, today=today, session=session)
    if not found:
        return t("activity.merchant_none", lang), None
    lines = [t("activity.merchant_title", lang)]
    rows = []
    for a in found[:20]:
        tier = t("activity.merchant_tier", lang, tier=a.min_tier) if a.min_tier else ""
        lines.append(
            t(
                "activity.merchant_line",
                lang,
                id=a.id,
                name=h(a.name),
                leader=h(a.leader),
                starts=a.starts.isoformat(),
                ends=a.ends.isoformat(),
                floors=floors_text(a.floors, lang),
                tier=tier,
            )
        )
        rows.append([_button(t("activity.btn_pick", lang, id=a.id), ActCb(action="pick", id=a.id))])
    lines.append("")
    lines.append(t("activity.merchant_usage", lang))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def figures_text(a: ActivityView, f: activities.Figures, today: date, lang: str) -> str:
    return t(
        "activity.figures",
        lang,
        id=a.id,
        name=h(a.name),
        starts=a.starts.isoformat(),
        ends=a.ends.isoformat(),
        state=t(f"activity.state.{a.state(today).value}", lang),
        floors=floors_text(a.floors, lang),
        tier=a.min_tier or t("activity.no_tier", lang),
        submitted=f.submitted,
        approved=f.approved,
        rejected=f.rejected,
        waiting=f.submitted - f.approved - f.rejected,
        merchants=f.merchants,
        tiers=tiers_text(f.by_tier),
        asked=f.samples_asked,
        shipped=f.samples_shipped,
    )


async def _pressed_activity(callback_data: ActCb, session: AsyncSession) -> ActivityView | None:
    """The activity a button names (None for a forged or stale id); who may act is the caller's check."""
    if not valid_id(callback_data.id):
        return None
    return await activities.get_activity(callback_data.id, session=session)


async def show_pressed(
    query: CallbackQuery, callback_data: ActCb, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    a = await _pressed_activity(callback_data, session)
    if a is None or a.leader_id != viewer.leader_id:  # another 团长's figures stay theirs
        await query.answer(t("activity.not_found", lang), show_alert=True)
        return
    f = await activities.figures(a, session=session)
    await query.answer()
    text = figures_text(a, f, _today(viewer, settings), lang)
    waiting = await activities.waiting(a.id, session=session)
    markup = _decision_rows(waiting, lang) if waiting else None
    if not await edit_in_place(query.message, text, markup) and query.message is not None:
        await query.message.answer(text, reply_markup=markup)


def _decision_rows(waiting: list[SubmissionView], lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(
                    f"{t('activity.btn_approve', lang)} #{s.id} {s.sku}"[:60], ActCb(action="ok", id=s.id)
                ),
                _button(f"{t('activity.btn_reject', lang)} #{s.id}", ActCb(action="no", id=s.id)),
            ]
            for s in waiting
        ]
    )


# -- the guided chat (团长)


async def _start_form(message: Message, session: AsyncSession, state: FSMContext, lang: str) -> None:
    if not await activities.categories(session=session):
        await message.answer(t("activity.no_categories", lang))
        return
    await state.clear()
    await state.set_state(ActivityForm.name)
    await message.answer(t("activity.ask_name", lang), reply_markup=_markup(_cancel_row(lang)))


async def new_pressed(query: CallbackQuery, session: AsyncSession, viewer: Viewer, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _start_form(query.message, session, state, viewer.lang)


def _problem(exc: ParseError, lang: str) -> str:
    return t(f"activity.bad.{exc.problem.value}", lang, detail=h(exc.detail))


async def name_given(
    message: Message, viewer: Viewer, settings: Settings, session: AsyncSession, state: FSMContext
) -> None:
    lang = viewer.lang
    try:
        name = parse_name(message.text or "")
    except ParseError as exc:
        await message.answer(_problem(exc, lang), reply_markup=_markup(_cancel_row(lang)))
        return
    await state.update_data(name=name)
    await state.set_state(ActivityForm.period)
    today = _today(viewer, settings)
    example = (
        f"{today.isoformat()} {today.replace(day=28).isoformat()}" if today.day < 28 else today.isoformat()
    )
    await message.answer(
        t("activity.ask_period", lang, example=example), reply_markup=_markup(_cancel_row(lang))
    )


async def period_given(
    message: Message, viewer: Viewer, settings: Settings, session: AsyncSession, state: FSMContext
) -> None:
    lang = viewer.lang
    try:
        starts, ends = parse_period(message.text or "", _today(viewer, settings))
    except ParseError as exc:
        await message.answer(_problem(exc, lang), reply_markup=_markup(_cancel_row(lang)))
        return
    await state.update_data(starts=starts.isoformat(), ends=ends.isoformat())
    await state.set_state(ActivityForm.floors)
    names = list((await activities.categories(session=session)).values())
    example = "\n".join(f"{n} 20%" for n in names[:2])
    categories = t("list.separator", lang).join(h(n) for n in names[:40])
    await message.answer(
        t("activity.ask_floors", lang, example=h(example), categories=categories),
        reply_markup=_markup(_cancel_row(lang)),
    )


def _tier_keyboard(lang: str) -> InlineKeyboardMarkup:
    tiers = [_button(tier, ActCb(action="tier", id=int(tier[1:]))) for tier in TIERS[3:]]
    return _markup(
        tiers, [_button(t("activity.btn_no_tier", lang), ActCb(action="tier", id=0))], _cancel_row(lang)
    )


async def floors_given(message: Message, viewer: Viewer, session: AsyncSession, state: FSMContext) -> None:
    lang = viewer.lang
    try:
        floors = parse_floors(message.text or "", await activities.categories(session=session))
    except ParseError as exc:
        await message.answer(_problem(exc, lang), reply_markup=_markup(_cancel_row(lang)))
        return
    await state.update_data(floors={f.category: f.min_commission for f in floors})
    await state.set_state(ActivityForm.tier)
    await message.answer(t("activity.ask_tier", lang), reply_markup=_tier_keyboard(lang))


async def _confirm(target: Message, lang: str, state: FSMContext, tier: str | None) -> None:
    await state.update_data(min_tier=tier)
    await state.set_state(ActivityForm.confirm)
    data = await state.get_data()
    text = t(
        "activity.confirm",
        lang,
        name=h(data["name"]),
        starts=data["starts"],
        ends=data["ends"],
        floors=floors_text(data["floors"], lang),
        tier=tier or t("activity.no_tier", lang),
    )
    markup = _markup([_button(t("activity.btn_create", lang), ActCb(action="create"))], _cancel_row(lang))
    await target.answer(text, reply_markup=markup)


async def tier_given(message: Message, viewer: Viewer, state: FSMContext) -> None:
    try:
        tier = parse_min_tier(message.text or "")
    except ParseError as exc:
        await message.answer(_problem(exc, viewer.lang), reply_markup=_tier_keyboard(viewer.lang))
        return
    await _confirm(message, viewer.lang, state, tier)


async def tier_pressed(query: CallbackQuery, callback_data: ActCb, viewer: Viewer, state: FSMContext) -> None:
    await query.answer()
    if await state.get_state() != ActivityForm.tier.state or not isinstance(query.message, Message):
        return
    tier = f"L{callback_data.id}" if f"L{callback_data.id}" in TIERS[1:] else None
    await _confirm(query.message, viewer.lang, state, tier)


async def create_pressed(
    query: CallbackQuery, session: AsyncSession, viewer: Viewer, state: FSMContext
) -> None:
    lang = viewer.lang
    if await state.get_state() != ActivityForm.confirm.state or viewer.leader_id is None:
        await query.answer(t("activity.stale", lang))
        return
    data = await state.get_data()
    await state.clear()
    activity_id = await activities.create_activity(
        viewer.leader_id,
        name=data["name"],
        starts=date.fromisoformat(data["starts"]),
        ends=date.fromisoformat(data["ends"]),
        floors=[Floor(c, r) for c, r in data["floors"].items()],
        min_tier=data.get("min_tier"),
        created_by=viewer.telegram_id,
        session=session,
    )
    await query.answer()
    text = t("activity.created", lang, id=activity_id, name=h(data["name"]))
    if not await edit_in_place(query.message, text, None) and query.message is not None:
        await query.message.answer(text)


async def cancel(message: Message, viewer: Viewer, state: FSMContext) -> None:
    await state.clear()
    await message.answer(t("activity.cancelled", viewer.lang))


async def cancel_pressed(query: CallbackQuery, viewer: Viewer, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    text = t("activity.cancelled", viewer.lang)
    if not await edit_in_place(query.message, text, None) and query.message is not None:
        await query.message.answer(text)


# -- submissions (merchants)


async def pick_pressed(
    query: CallbackQuery, callback_data: ActCb, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    a = await _pressed_activity(callback_data, session)
    if a is None or viewer.merchant_id is None:
        await query.answer(t("activity.refused_gone", lang), show_alert=True)
        return
    found = await activities.candidates(a, viewer.merchant_id, session=session)
    await query.answer()
    markup: InlineKeyboardMarkup | None = None
    if not found:
        text = t("activity.pick_none", lang)
    else:
        text = t("activity.pick_title", lang, name=h(a.name), id=a.id)
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    _button(
                        t(
                            "activity.pick_line",
                            lang,
                            sku=c.sku,
                            tier=c.tier,
                            rate=percent(c.commission),
                            status=t(f"activity.status.{c.status}", lang) if c.status else "",
                        )[:60],
                        ActCb(action="sub", id=a.id, p=c.product_id),
                    )
                ]
                for c in found
            ]
        )
    if query.message is not None:
        await query.message.answer(text, reply_markup=markup)


async def sub_pressed(
    query: CallbackQuery,
    callback_data: ActCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    if viewer.merchant_id is None or not (valid_id(callback_data.id) and valid_id(callback_data.p)):
        await query.answer(t("activity.refused_gone", viewer.lang), show_alert=True)
        return
    text = await _submit(callback_data.id, callback_data.p, None, bot, session, viewer, settings)
    await query.answer()
    if query.message is not None:
        await query.message.answer(text)


async def _submit_by_text(
    message: Message, args: list[str], bot: Bot, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    if len(args) < 2 or not args[0].lstrip("#").isdigit() or not valid_id(int(args[0].lstrip("#"))):
        await message.answer(t("activity.merchant_usage", lang))
        return
    rate = None
    if len(args) > 2:
        try:
            rate = parse_rate(args[2])
        except ValueError:
            await message.answer(t("activity.bad_rate", lang, rate=h(args[2][:16])))
            return
    record = await get_product(args[1], session=session) or await get_product(
        normalise_sku(args[1]), session=session
    )
    if record is None:
        await message.answer(t("activity.refused_gone", lang))
        return
    await message.answer(
        await _submit(int(args[0].lstrip("#")), record.item.id, rate, bot, session, viewer, settings)
    )


async def _submit(
    activity_id: int,
    product_id: int,
    rate: float | None,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> str:
    """Submit, tell the 团长's users, and return what the merchant reads."""
    lang = viewer.lang
    assert viewer.merchant_id is not None
    result = await activities.submit(
        activity_id,
        product_id,
        merchant_id=viewer.merchant_id,
        submitted_by=viewer.telegram_id,
        today=_today(viewer, settings),
        rate=rate,
        session=session,
    )
    if result.status == SubmitStatus.REFUSED:
        return _refusal_text(result, lang)
    if result.status == SubmitStatus.DUPLICATE and result.view is not None:
        status = t(f"activity.status.{result.view.status}", lang).strip(" ·")
        return t("activity.refused_duplicate", lang, sku=h(result.view.sku), status=status)
    if result.status != SubmitStatus.SUBMITTED or result.view is None:
        return t(f"activity.refused_{result.status.value}", lang)
    view = result.view
    for telegram_id, their_lang in await leaders.leader_users(view.leader_id, session=session):
        markup = _markup(
            [
                _button(t("activity.btn_approve", their_lang), ActCb(action="ok", id=view.id)),
                _button(t("activity.btn_reject", their_lang), ActCb(action="no", id=view.id)),
            ]
        )
        await _send(bot, telegram_id, submission_text("activity.incoming", view, their_lang), markup)
    return submission_text("activity.submitted", view, lang)


def _refusal_text(result: activities.Submitted, lang: str) -> str:
    missed, sku = result.refusal, result.sku
    if missed == Refusal.COMMISSION:
        return t(
            "activity.refused_commission",
            lang,
            sku=h(sku),
            category=h(category_name(result.category, lang)),
            floor=percent(result.floor or 0),
            rate=percent(result.rate),
        )
    if missed == Refusal.TIER:
        return t("activity.refused_tier", lang, sku=h(sku), min_tier=result.min_tier, tier=result.tier)
    if missed == Refusal.CATEGORY:
        return t(
            "activity.refused_category", lang, sku=h(sku), category=h(category_name(result.category, lang))
        )
    return t("activity.refused_not_open", lang)


def submission_text(key: str, view: SubmissionView, lang: str, **extra: str) -> str:
    return t(
        key,
        lang,
        id=view.id,
        name=h(view.activity),
        merchant=h(view.merchant),
        title=h(view.title),
        sku=h(view.sku),
        category=h(category_name(view.category, lang)),
        tier=view.tier,
        rate=percent(view.rate),
        **extra,
    )


# -- decisions (团长)


async def _tell_merchant(bot: Bot, session: AsyncSession, view: SubmissionView) -> None:
    key = "activity.approved" if view.status == activities.APPROVED else "activity.rejected"
    for recipient in await alert_recipients([view.merchant_id], session=session):
        text = submission_text(key, view, recipient.language, reason=h(view.reason or ""))
        await _send(bot, recipient.telegram_id, text)


async def approve_pressed(
    query: CallbackQuery, callback_data: ActCb, bot: Bot, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    view = None
    if viewer.leader_id is not None and valid_id(callback_data.id):
        view = await activities.decide(
            callback_data.id, leader_id=viewer.leader_id, approve=True, session=session
        )
    if view is None:  # not theirs, decided already, or forged
        await query.answer(t("activity.decided", lang), show_alert=True)
        return
    await query.answer()
    text = submission_text("activity.approved_by_you", view, lang)
    if not await edit_in_place(query.message, text, None):
        await bot.send_message(viewer.telegram_id, text)
    await _tell_merchant(bot, session, view)


async def reject_pressed(
    query: CallbackQuery, callback_data: ActCb, session: AsyncSession, viewer: Viewer, state: FSMContext
) -> None:
    lang = viewer.lang
    view = (
        await activities.get_submission(callback_data.id, session=session)
        if valid_id(callback_data.id)
        else None
    )
    if view is None or view.leader_id != viewer.leader_id or view.status != activities.SUBMITTED:
        await query.answer(t("activity.decided", lang), show_alert=True)
        return
    await state.set_state(RejectInput.reason)
    await state.update_data(submission=view.id)
    await query.answer()
    if query.message is not None:
        await query.message.answer(t("activity.ask_reason", lang, id=view.id))


async def reason_given(
    message: Message, bot: Bot, session: AsyncSession, viewer: Viewer, state: FSMContext
) -> None:
    lang = viewer.lang
    reason = " ".join((message.text or "").split())[:REASON_MAX]
    if not reason:
        await message.answer(t("activity.reason_empty", lang))
        return
    submission_id = int((await state.get_data()).get("submission", 0))
    await state.clear()
    view = None
    if viewer.leader_id is not None:
        view = await activities.decide(
            submission_id, leader_id=viewer.leader_id, approve=False, reason=reason, session=session
        )
    if view is None:
        await message.answer(t("activity.decided", lang))
        return
    await message.answer(submission_text("activity.rejected_by_you", view, lang))
    await _tell_merchant(bot, session, view)


async def stale_button(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("activity.stale", viewer.lang))


def make_router() -> Router:
    router = Router(name=__name__)
    # The guided chat and the reason come first: while a 团长 is in them, their text is an answer.
    router.message.register(cancel, StateFilter(ActivityForm, RejectInput), Command("cancel"))
    router.message.register(name_given, StateFilter(ActivityForm.name), PlainText())
    router.message.register(period_given, StateFilter(ActivityForm.period), PlainText())
    router.message.register(floors_given, StateFilter(ActivityForm.floors), PlainText())
    router.message.register(tier_given, StateFilter(ActivityForm.tier), PlainText())
    router.message.register(reason_given, StateFilter(RejectInput.reason), PlainText())
    router.callback_query.register(cancel_pressed, ActCb.filter(F.action == "cancel"))

    router.message.register(team_command, Command("team"))
    router.message.register(leave_command, Command("leave_team"))
    router.callback_query.register(leave_pressed, TeamCb.filter(F.action == "leave"))

    admins = Router(name=f"{__name__}.admins")
    admins.message.filter(RoleFilter(ADMIN))
    admins.message.register(invite_leader_command, Command("invite_leader"))
    router.include_router(admins)

    members = Router(name=f"{__name__}.members")  # 团长 and merchants (and admins, who see nothing of theirs)
    members.message.filter(RoleFilter(LEADER, MERCHANT))
    members.callback_query.filter(RoleFilter(LEADER, MERCHANT))
    members.message.register(activity_command, Command("activity"))
    members.callback_query.register(new_pressed, ActCb.filter(F.action == "new"), RoleFilter(LEADER))
    members.callback_query.register(tier_pressed, ActCb.filter(F.action == "tier"), RoleFilter(LEADER))
    members.callback_query.register(create_pressed, ActCb.filter(F.action == "create"), RoleFilter(LEADER))
    members.callback_query.register(show_pressed, ActCb.filter(F.action == "show"))
    members.callback_query.register(approve_pressed, ActCb.filter(F.action == "ok"))
    members.callback_query.register(reject_pressed, ActCb.filter(F.action == "no"))
    members.callback_query.register(pick_pressed, ActCb.filter(F.action == "pick"), RoleFilter(MERCHANT))
    members.callback_query.register(sub_pressed, ActCb.filter(F.action == "sub"), RoleFilter(MERCHANT))
    router.include_router(members)
    stale = Router(name=f"{__name__}.stale")  # after every real handler: forged, stale or not for this role
    stale.callback_query.register(stale_button, Prefixed(ActCb.__prefix__))
    stale.callback_query.register(stale_button, Prefixed(TeamCb.__prefix__))
    router.include_router(stale)
    return router
