"""From a pick to a deal: exclusive commissions (/offer), streamers for a product (/match), /profile.

Buttons carry short ids only (`mt:i:<product id>:<streamer id>` invite, `of:a:<offer id>` accept,
`mu:<merchant id>` mute, `pf:<0|1>` discoverability). Every press re-checks the presser's rights:
only the product's merchant (or an admin) invites, only the offer's streamer accepts, and a mute
only ever silences a merchant for the presser. A streamer's exact figures never reach a merchant
(bands only), and an offer is shown to its streamer alone.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import timedelta
from typing import Annotated

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import Field
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import MAX_ID, Prefixed, grade_button
from bot.match import band_text, find_streamers, match_text, mix_text
from bot.picks import picks_context
from bot.render import h, percent, product_card, shorten
from bot.settings import Settings
from core.match import gmv_band
from handlers.filters import RoleFilter
from storage import matching, offers
from storage.catalog import ProductRecord, get_product, get_product_by_id
from storage.merchants import merchant_name
from storage.regrade import normalise_sku
from storage.tables import utcnow
from storage.users import ADMIN, MERCHANT, STREAMER, Viewer, alert_recipients, get_user

logger = logging.getLogger(__name__)

RowId = Annotated[int, Field(gt=0, le=MAX_ID)]
TelegramId = Annotated[int, Field(gt=0, le=2**63 - 1)]


class InviteCb(CallbackData, prefix="mt"):
    """A merchant invites a streamer from /match: `mt:i:<product id>:<streamer id>`."""

    action: str
    product_id: RowId
    streamer_id: TelegramId


class OfferCb(CallbackData, prefix="of"):
    """A streamer accepts their exclusive offer: `of:a:<offer id>`."""

    action: str
    id: RowId


class MuteCb(CallbackData, prefix="mu"):
    """A streamer mutes a merchant: `mu:<merchant id>`."""

    merchant_id: RowId


class ProfileCb(CallbackData, prefix="pf"):
    """Discoverability on (1) or off (0)."""

    on: Annotated[int, Field(ge=0, le=1)]


_RATE_RE = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)%?$")
_ON = {"on", "开", "开启", "打开"}
_OFF = {"off", "关", "关闭"}


async def _product(session: AsyncSession, sku: str) -> ProductRecord | None:
    record = await get_product(sku, session=session)
    if record is None and normalise_sku(sku) != sku:
        record = await get_product(normalise_sku(sku), session=session)
    return record


async def _send(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """A message to another user; False when Telegram refuses it (blocked, never started)."""
    try:
        await bot.send_message(chat_id, text, reply_markup=markup)
    except TelegramAPIError as exc:
        logger.info("could not reach %s: %s", chat_id, exc)
        return False
    return True


def _offer_keyboard(
    offer_id: int | None, merchant_id: int, product_id: int, lang: str
) -> InlineKeyboardMarkup:
    rows = []
    if offer_id is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t("deals.btn_accept", lang), callback_data=OfferCb(action="a", id=offer_id).pack()
                )
            ]
        )
    rows.append([grade_button(product_id, lang)])
    rows.append(
        [
            InlineKeyboardButton(
                text=t("deals.btn_mute", lang), callback_data=MuteCb(merchant_id=merchant_id).pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


# --------------------------------------------------------------------------------------------
# /offer SKU TELEGRAM_ID RATE DAYS (merchants, admins)


async def offer_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    lang = viewer.lang
    parts = unicodedata.normalize("NFKC", command.args or "").split()
    usage = t("deals.offer_usage", lang, days=settings.offer_max_days)
    if len(parts) != 4:
        await message.answer(usage)
        return
    sku, who, rate_arg, days_arg = parts
    record = await _product(session, sku[:64])
    if record is None or not viewer.may_see_private(record.merchant_id):
        await message.answer(t("deals.not_your_product", lang, sku=h(sku[:64])))
        return
    match = _RATE_RE.match(rate_arg)
    rate = float(match.group(1)) / 100 if match else 0.0
    public = record.item.commission_rate
    if not (public < rate <= 1.0):
        await message.answer(t("deals.bad_rate", lang, public=percent(public)) + "\n\n" + usage)
        return
    days = int(days_arg) if days_arg.isdigit() else 0
    if not 1 <= days <= settings.offer_max_days:
        await message.answer(t("deals.bad_days", lang, days=settings.offer_max_days) + "\n\n" + usage)
        return
    streamer_id = int(who) if who.isdigit() and len(who) <= 18 else 0
    user = await get_user(streamer_id, session=session) if streamer_id else None
    if (
        user is None
        or not user.active
        or user.merchant_id == record.merchant_id  # roles add up; only one's own goods are out
        or await matching.is_muted(streamer_id, record.merchant_id, session=session)
    ):
        await message.answer(t("deals.cannot_reach", lang, who=h(who[:20])))
        return
    expires_at = utcnow() + timedelta(days=days)
    offer = await offers.make_offer(
        record.item.id,
        streamer_id,
        merchant_id=record.merchant_id,
        rate=rate,
        expires_at=expires_at,
        offered_by=viewer.telegram_id,
        session=session,
    )
    merchant = await merchant_name(record.merchant_id, session=session) or ""
    slang = user.language or "zh"
    text = (
        t(
            "deals.offer_received",
            slang,
            merchant=h(merchant),
            rate=percent(rate),
            until=expires_at.date().isoformat(),
        )
        + "\n\n"
        + product_card(record.item, slang, exclusive=rate)
    )
    delivered = await _send(
        bot, streamer_id, text, _offer_keyboard(offer.id, record.merchant_id, record.item.id, slang)
    )
    key = "deals.offer_sent" if delivered else "deals.offer_saved_undelivered"
    await message.answer(
        t(
            key,
            lang,
            name=h(shorten(user.name, 40)),
            sku=h(record.item.sku),
            rate=percent(rate),
            until=expires_at.date().isoformat(),
        )
    )


async def offer_pressed(
    query: CallbackQuery, callback_data: OfferCb, bot: Bot, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    offer = (
        await offers.accept_offer(callback_data.id, viewer.telegram_id, now=utcnow(), session=session)
        if callback_data.action == "a"
        else None
    )
    if offer is None:
        await query.answer(t("deals.offer_gone", lang), show_alert=True)
        return
    await query.answer(t("deals.offer_accepted", lang, rate=percent(offer.rate), sku=offer.sku)[:200])
    user = await get_user(viewer.telegram_id, session=session)
    name = h(shorten(user.name if user else "", 40))
    for recipient in await alert_recipients([offer.merchant_id], session=session):
        await _send(
            bot,
            recipient.telegram_id,
            t(
                "deals.offer_accepted_merchant",
                recipient.language,
                name=name,
                sku=h(offer.sku),
                rate=percent(offer.rate),
            ),
        )


# --------------------------------------------------------------------------------------------
# /match SKU (merchants, admins) and the invite button


async def match_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
) -> None:
    lang = viewer.lang
    sku = unicodedata.normalize("NFKC", command.args or "").strip()[:64]
    if not sku:
        await message.answer(t("match.usage", lang))
        return
    record = await _product(session, sku)
    if record is None or not viewer.may_see_private(record.merchant_id):
        await message.answer(t("deals.not_your_product", lang, sku=h(sku)))
        return
    context = await picks_context(sessionmaker)
    rows = await find_streamers(session, context, record.item, record.merchant_id)
    buttons = [
        InlineKeyboardButton(
            text=t("match.btn_invite", lang, n=n),
            callback_data=InviteCb(action="i", product_id=record.item.id, streamer_id=row.telegram_id).pack(),
        )
        for n, row in enumerate(rows, 1)
    ]
    markup = (
        InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 5] for i in range(0, len(buttons), 5)])
        if buttons
        else None
    )
    await message.answer(match_text(record.item, rows, lang), reply_markup=markup)


async def invite_pressed(
    query: CallbackQuery,
    callback_data: InviteCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    lang = viewer.lang
    record = await get_product_by_id(callback_data.product_id, session=session)
    if record is None or callback_data.action != "i" or not viewer.may_see_private(record.merchant_id):
        await query.answer(t("match.invite_denied", lang), show_alert=True)
        return
    merchant_id, streamer_id = record.merchant_id, callback_data.streamer_id
    streamer = await matching.findable(streamer_id, session=session)
    if streamer is None or await matching.is_muted(streamer_id, merchant_id, session=session):
        await query.answer(t("match.invite_unavailable", lang), show_alert=True)
        return
    if await matching.already_invited(merchant_id, streamer_id, record.item.id, session=session):
        await query.answer(t("match.invite_already", lang), show_alert=True)
        return
    since = utcnow() - timedelta(days=1)
    if (
        await matching.invites_since(since, merchant_id=merchant_id, session=session)
        >= settings.match_invites_per_merchant_day
    ):
        await query.answer(
            t("match.limit_merchant", lang, n=settings.match_invites_per_merchant_day), show_alert=True
        )
        return
    if (
        await matching.invites_since(since, streamer_id=streamer_id, session=session)
        >= settings.match_invites_per_streamer_day
    ):
        await query.answer(t("match.limit_streamer", lang), show_alert=True)
        return
    offer = await offers.offer_for(streamer_id, record.item.id, now=utcnow(), session=session)
    merchant = await merchant_name(merchant_id, session=session) or ""
    slang = streamer.language
    text = (
        t("match.invited", slang, merchant=h(merchant))
        + "\n\n"
        + product_card(record.item, slang, exclusive=offer.rate if offer else None)
    )
    markup = _offer_keyboard(
        offer.id if offer and not offer.accepted else None, merchant_id, record.item.id, slang
    )
    if not await _send(bot, streamer_id, text, markup):
        await query.answer(t("match.invite_unavailable", lang), show_alert=True)
        return
    await matching.record_invite(
        merchant_id, streamer_id, record.item.id, sent_by=viewer.telegram_id, session=session
    )
    await query.answer(t("match.invite_sent", lang))


async def mute_pressed(
    query: CallbackQuery, callback_data: MuteCb, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    name = await merchant_name(callback_data.merchant_id, session=session)
    if name is None:
        await query.answer(t("deals.offer_gone", lang), show_alert=True)
        return
    await matching.mute(viewer.telegram_id, callback_data.merchant_id, session=session)
    await query.answer(t("deals.muted", lang, merchant=shorten(name, 60))[:200], show_alert=True)
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest as exc:
            logger.info("could not drop the invitation's buttons: %s", exc.message)


# --------------------------------------------------------------------------------------------
# /profile (streamers)


async def _profile_view(
    session: AsyncSession, viewer: Viewer, sessionmaker: async_sessionmaker
) -> tuple[str, InlineKeyboardMarkup]:
    lang = viewer.lang
    on = await matching.is_discoverable(viewer.telegram_id, session=session)
    user = await get_user(viewer.telegram_id, session=session)
    context = await picks_context(sessionmaker)
    chosen = tuple(c for c in (user.chosen_categories if user else "").split(";") if c)
    own, _has_sales = context.own_mix(viewer.telegram_id, chosen)
    gmv = (await matching.total_gmv([viewer.telegram_id], session=session)).get(viewer.telegram_id, 0.0)
    top = tuple(sorted(own.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    lines = [
        t("profile.title", lang),
        t("profile.on" if on else "profile.off", lang),
        "",
        t("profile.preview", lang),
        f"<b>{h(shorten(user.name if user else '', 40)) or '—'}</b> · {band_text(gmv_band(gmv), lang)}",
        "    " + mix_text(top, lang),
        "",
        t("profile.usage", lang),
    ]
    button = InlineKeyboardButton(
        text=t("profile.btn_off" if on else "profile.btn_on", lang),
        callback_data=ProfileCb(on=0 if on else 1).pack(),
    )
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=[[button]])


async def profile_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
) -> None:
    word = unicodedata.normalize("NFKC", command.args or "").strip().lower()
    if word in _ON or word in _OFF:
        await matching.set_discoverable(
            viewer.telegram_id, word in _ON, language=viewer.lang, session=session
        )
    elif word:
        await message.answer(t("profile.usage", viewer.lang))
        return
    text, markup = await _profile_view(session, viewer, sessionmaker)
    await message.answer(text, reply_markup=markup)


async def profile_pressed(
    query: CallbackQuery,
    callback_data: ProfileCb,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
) -> None:
    await matching.set_discoverable(
        viewer.telegram_id, bool(callback_data.on), language=viewer.lang, session=session
    )
    text, markup = await _profile_view(session, viewer, sessionmaker)
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            logger.info("could not update /profile: %s", exc.message)
    await query.answer(t("profile.saved", viewer.lang))


async def deals_unknown(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("deals.offer_gone", viewer.lang), show_alert=True)


def make_router() -> Router:
    router = Router(name=__name__)
    sellers = RoleFilter(MERCHANT, ADMIN)
    streamers = RoleFilter(STREAMER, ADMIN)
    router.message.register(offer_command, Command("offer"), sellers)
    router.message.register(match_command, Command("match"), sellers)
    router.message.register(profile_command, Command("profile"), streamers)
    router.callback_query.register(invite_pressed, InviteCb.filter(), sellers)
    router.callback_query.register(offer_pressed, OfferCb.filter(F.action == "a"), streamers)
    router.callback_query.register(mute_pressed, MuteCb.filter(), streamers)
    router.callback_query.register(profile_pressed, ProfileCb.filter(), streamers)
    # Forged, stale or malformed payloads under our prefixes, or pressed by the wrong role: a polite no.
    for prefix in (InviteCb.__prefix__, OfferCb.__prefix__, MuteCb.__prefix__, ProfileCb.__prefix__):
        router.callback_query.register(deals_unknown, Prefixed(prefix))
    return router
