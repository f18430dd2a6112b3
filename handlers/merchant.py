"""Merchants: /bind CODE, and /mygoods (their products by tier, a page at a time).

/mygoods is for bound merchants (their own goods) and admins (`/mygoods MERCHANT`, any merchant).
The role filter sits on messages and callbacks alike, and every page turn checks again that the
presser may see that merchant's goods: a button only names a merchant id, a tier and a page.
"""

from __future__ import annotations

import math

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commands import set_menu
from bot.i18n import t
from bot.keyboards import ALL_TIERS, GradeCb, MyGoodsCb, Prefixed, valid_id
from bot.render import h, score_text, shorten, tier_label
from bot.services import Services
from core.catalog import TIERS
from handlers.filters import RoleFilter
from handlers.guesses import guess_allowed
from handlers.leaders import leader_bind_text
from handlers.replies import edit_in_place
from storage.invites import BindStatus, bind_invite
from storage.leaders import LeaderBind, bind_leader
from storage.merchants import (
    PAGE_SIZE,
    GoodsLine,
    MerchantRef,
    close_merchants,
    find_merchant,
    get_merchant,
    goods_page,
    tier_counts,
)
from storage.users import ADMIN, LEADER, MERCHANT, Viewer

BUTTONS_PER_ROW = 5
TITLE_CHARS = 40


# --------------------------------------------------------------------------- /bind


async def bind_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    services: Services,
    viewer: Viewer,
) -> None:
    code = (command.args or "").strip()
    lang = viewer.lang
    if not code:
        await message.answer(t("bind.usage", lang))
        return
    if viewer.is_admin:
        await message.answer(t("bind.admin", lang))
        return
    if not await guess_allowed(message, services, viewer, "bind"):
        return
    tg = message.from_user
    assert tg is not None
    # 团长 bind the same way, with a code from /invite_leader; roles add up.
    as_leader = await bind_leader(
        code, telegram_id=tg.id, name=tg.full_name, username=tg.username, language=lang, session=session
    )
    if as_leader is not None:
        await message.answer(leader_bind_text(as_leader, code, lang))
        if as_leader.status == LeaderBind.BOUND:
            await set_menu(bot, tg.id, viewer.roles | {LEADER}, lang)
        return
    result = await bind_invite(
        code, telegram_id=tg.id, name=tg.full_name, username=tg.username, language=lang, session=session
    )
    shown = h(code[:32])
    merchant = h(result.merchant.name) if result.merchant else ""
    if result.status == BindStatus.BOUND:
        text = t("bind.bound", lang, merchant=merchant) + "\n\n" + t("bind.kept", lang)
    elif result.status == BindStatus.SWITCHED:
        previous = h(result.previous.name) if result.previous else ""
        text = t("bind.switched", lang, merchant=merchant, previous=previous)
    elif result.status == BindStatus.ALREADY:
        text = t("bind.already", lang, merchant=merchant)
    elif result.status == BindStatus.USED_BY_YOU:
        text = t("bind.used_by_you", lang, code=shown, merchant=merchant)
    else:  # unknown, used, revoked, expired
        text = t(f"bind.{result.status.value}", lang, code=shown)
    await message.answer(text)
    if result.status in (BindStatus.BOUND, BindStatus.SWITCHED):
        await set_menu(bot, tg.id, viewer.roles | {MERCHANT}, lang)


# --------------------------------------------------------------------------- /mygoods


def goods_text(
    merchant: MerchantRef,
    counts: dict[str, int],
    tier: str,
    page: int,
    pages: int,
    lines: list[GoodsLine],
    lang: str,
) -> str:
    """One page of /mygoods: counts per tier, then the page's products under their tier headings."""
    total = sum(counts.values())
    out = [t("mygoods.title", lang, merchant=h(merchant.name), total=total)]
    if merchant.name != merchant.code:
        out.append(f"<code>{h(merchant.code)}</code>")
    if total == 0:
        out += ["", t("mygoods.empty", lang)]
        return "\n".join(out)
    out.append("")
    for name in reversed(TIERS):
        mark = "▸ " if name == tier else ""
        out.append(f"{mark}{tier_label(name, lang)}: <b>{counts[name]}</b>")
    out.append("")
    if tier != ALL_TIERS:
        out.append(t("mygoods.only_tier", lang, tier=tier_label(tier, lang)))
    heading = None
    for n, line in enumerate(lines, 1):
        if line.tier != heading:
            heading = line.tier
            out.append(f"<b>— {tier_label(line.tier, lang)} —</b>")
        title = shorten(line.title, TITLE_CHARS)
        flag = " ⚠️" + t("mygoods.counterfeit", lang) if line.counterfeit else ""
        out.append(
            t("mygoods.line", lang, n=n, title=h(title), sku=h(line.sku), score=score_text(line.score)) + flag
        )
    if not lines:
        out.append(t("mygoods.tier_empty", lang))
    out += ["", t("mygoods.page", lang, page=page + 1, pages=pages)]
    return "\n".join(out)


def goods_keyboard(
    merchant_id: int,
    counts: dict[str, int],
    tier: str,
    page: int,
    pages: int,
    lines: list[GoodsLine],
    lang: str,
) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    numbers = [
        InlineKeyboardButton(text=str(n), callback_data=GradeCb(product_id=line.id).pack())
        for n, line in enumerate(lines, 1)
    ]
    rows += [numbers[i : i + BUTTONS_PER_ROW] for i in range(0, len(numbers), BUTTONS_PER_ROW)]
    nav = []
    if page > 0:
        data = MyGoodsCb(merchant_id=merchant_id, tier=tier, page=page - 1, fresh=0).pack()
        nav.append(InlineKeyboardButton(text=t("mygoods.prev", lang), callback_data=data))
    if page + 1 < pages:
        data = MyGoodsCb(merchant_id=merchant_id, tier=tier, page=page + 1, fresh=0).pack()
        nav.append(InlineKeyboardButton(text=t("mygoods.next", lang), callback_data=data))
    if nav:
        rows.append(nav)
    filters = []
    if tier != ALL_TIERS:
        data = MyGoodsCb(merchant_id=merchant_id, tier=ALL_TIERS, page=0, fresh=0).pack()
        filters.append(InlineKeyboardButton(text=t("mygoods.all", lang), callback_data=data))
    for name in reversed(TIERS):
        if counts[name] and name != tier:
            data = MyGoodsCb(merchant_id=merchant_id, tier=name, page=0, fresh=0).pack()
            filters.append(InlineKeyboardButton(text=f"{name} · {counts[name]}", callback_data=data))
    rows += [filters[i : i + 4] for i in range(0, len(filters), 4)]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def goods_view(
    session: AsyncSession, merchant: MerchantRef, tier: str, page: int, lang: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Text and buttons of one /mygoods page (a page past the end shows the last one)."""
    counts = await tier_counts(merchant.id, session=session)
    in_view = sum(counts.values()) if tier == ALL_TIERS else counts[tier]
    pages = max(1, math.ceil(in_view / PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    lines = await goods_page(
        merchant.id, tier=None if tier == ALL_TIERS else tier, page=page, session=session
    )
    text = goods_text(merchant, counts, tier, page, pages, lines, lang)
    return text, goods_keyboard(merchant.id, counts, tier, page, pages, lines, lang)


async def mygoods_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    if message.chat.type != "private":  # counterfeit-flagged goods are listed: not for a group's eyes
        await message.answer(t("mygoods.private_only", lang))
        return
    arg = (command.args or "").strip()
    merchant: MerchantRef | None = None
    if viewer.is_admin and arg:
        merchant = await find_merchant(arg, session=session)
        if merchant is None:
            await message.answer(await unknown_merchant_text(session, arg, lang))
            return
    elif viewer.is_admin and viewer.merchant_id is None:
        close = await close_merchants("", limit=3, session=session)
        await message.answer(t("mygoods.admin_usage", lang, example=h(close[0] if close else "M001")))
        return
    elif viewer.merchant_id is not None:
        merchant = await get_merchant(viewer.merchant_id, session=session)
    if merchant is None:
        await message.answer(t("mygoods.not_merchant", lang))
        return
    text, markup = await goods_view(session, merchant, ALL_TIERS, 0, lang)
    await message.answer(text, reply_markup=markup)


async def unknown_merchant_text(session: AsyncSession, query: str, lang: str) -> str:
    """ "No such merchant", with the codes that look like it."""
    text = t("merchant.unknown", lang, code=h(query[:64]))
    close = await close_merchants(query, session=session)
    if close:
        text += "\n" + t("merchant.close", lang, codes="、".join(f"<code>{h(c)}</code>" for c in close))
    return text


async def mygoods_pressed(
    query: CallbackQuery, callback_data: MyGoodsCb, bot: Bot, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    tier = callback_data.tier
    allowed = valid_id(callback_data.merchant_id) and viewer.may_see_private(callback_data.merchant_id)
    if not allowed or (tier != ALL_TIERS and tier not in TIERS):
        await query.answer(t("mygoods.not_yours", lang), show_alert=True)
        return
    merchant = await get_merchant(callback_data.merchant_id, session=session)
    if merchant is None:
        await query.answer(t("mygoods.gone", lang), show_alert=True)
        return
    text, markup = await goods_view(session, merchant, tier, callback_data.page, lang)
    if callback_data.fresh or not await edit_in_place(query.message, text, markup):
        await bot.send_message(query.from_user.id, text, reply_markup=markup)  # private figures: private chat
    await query.answer()


async def not_a_merchant(message: Message, viewer: Viewer) -> None:
    await message.answer(t("mygoods.not_merchant", viewer.lang))


async def not_your_button(query: CallbackQuery, viewer: Viewer) -> None:
    """A /mygoods button pressed by a streamer, or a forged/stale one: nothing is shown."""
    await query.answer(t("mygoods.not_yours", viewer.lang), show_alert=True)


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.register(bind_command, Command("bind"))

    guarded = Router(name=f"{__name__}.guarded")
    guarded.message.filter(RoleFilter(MERCHANT, ADMIN))
    guarded.callback_query.filter(RoleFilter(MERCHANT, ADMIN))
    guarded.message.register(mygoods_command, Command("mygoods"))
    guarded.callback_query.register(mygoods_pressed, MyGoodsCb.filter())

    refusals = Router(name=f"{__name__}.refusals")
    refusals.message.register(not_a_merchant, Command("mygoods"))
    refusals.callback_query.register(not_your_button, Prefixed(MyGoodsCb.__prefix__))

    router.include_routers(guarded, refusals)
    return router
