"""Picks in chat: /picks, /categories, /digest, /tz, /watch and the pick buttons 详情 / 不感兴趣 / 换一批.

Buttons carry short ids only (`pk:d:<product id>:0`, `pk:m:0:<page>`, `pc:t:<category id>`,
`pw:rm:<watch id>`); every press re-reads what it names with the presser's rights: a forged or stale
button opens nothing hidden and changes nothing of anyone else's.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import PickCb, Prefixed, card_keyboard, picks_keyboard
from bot.picks import MAX_PAGE, PicksContext, PicksResult, picks_context, streamer_picks
from bot.render import categories_text, h, percent, product_card, tier_label
from bot.services import CatalogIndex
from bot.settings import Settings
from core.schedule import Schedule, cities, parse_hhmm, resolve_zone, slot_utc, utc_offset, zone_label
from core.search import find_brand, search
from handlers.filters import RoleFilter
from handlers.leaders import viewer_mark
from handlers.replies import edit_in_place, send_card
from handlers.search import own_rate
from storage import catalog, pick_history, profiles, sales, watches
from storage.catalog import find_brand as find_catalog_brand
from storage.catalog import get_product_by_id, product_brief_by_sku
from storage.tables import utcnow
from storage.users import ADMIN, STREAMER, Viewer

logger = logging.getLogger(__name__)

CHOOSER_MAX = 40  # category buttons shown at most
_MAX_ID = 2**31 - 1


class CategoryCb(CallbackData, prefix="pc"):
    """The /categories chooser: `t` toggles a category id, `ok` closes the chooser."""

    action: str
    id: int = 0


class ZoneCb(CallbackData, prefix="tz"):
    """One of the usual zones under /tz: `tz:<IANA name>` (the longest, America/Los_Angeles, is 22 bytes)."""

    zone: str


class WatchCb(CallbackData, prefix="pw"):
    """Stop a watch: `pw:rm:<watch id>`."""

    action: str
    id: int


# --------------------------------------------------------------------------------------------
# Views


def chooser_keyboard(
    cats: Sequence[tuple[int, str]], chosen: Sequence[str], lang: str
) -> InlineKeyboardMarkup:
    picked = set(chosen)
    buttons = [
        InlineKeyboardButton(
            text=("✅ " if name in picked else "") + name, callback_data=CategoryCb(action="t", id=cid).pack()
        )
        for cid, name in cats[:CHOOSER_MAX]
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [InlineKeyboardButton(text=t("categories.done", lang), callback_data=CategoryCb(action="ok").pack())]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def watches_view(items: Sequence[watches.WatchInfo], lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
    if not items:
        return t("watch.none", lang), None
    lines = [t("watch.list_title", lang, n=len(items))]
    rows = []
    for n, watch in enumerate(items, 1):
        kind = t(f"watch.kind_{watch.kind}", lang)
        lines.append(f"{n}. {kind} <code>{h(watch.target)}</code>")
        rows.append(
            [
                InlineKeyboardButton(
                    text=t("watch.btn_stop", lang, n=n, target=watch.target[:24]),
                    callback_data=WatchCb(action="rm", id=watch.id).pack(),
                )
            ]
        )
    lines += ["", t("watch.usage_short", lang)]
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def digest_status(profile: profiles.StreamerProfile, settings: Settings, lang: str) -> str:
    schedule = Schedule.of(profile.timezone, profile.digest_time, settings)
    key = "digest.status_on" if profile.digest_enabled else "digest.status_off"
    return t(key, lang, at=schedule.at.strftime("%H:%M"), zone=h(schedule.zone.key))


async def _today_picks(
    session: AsyncSession, context: PicksContext, viewer: Viewer, settings: Settings, *, page: int = 0
) -> PicksResult:
    profile = await profiles.get_profile(viewer.telegram_id, session=session)
    day = Schedule.of(profile.timezone, profile.digest_time, settings).today(utcnow())
    return await streamer_picks(session, context, profile, day, page=page)


async def _record_shown(session: AsyncSession, result: PicksResult) -> None:
    if result.picks:
        await pick_history.record_picks(result.telegram_id, result.skus, result.date, session=session)


# --------------------------------------------------------------------------------------------
# /picks and its buttons


async def picks_command(
    message: Message,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
    settings: Settings,
) -> None:
    context = await picks_context(sessionmaker)
    result = await _today_picks(session, context, viewer, settings)
    if message.chat.type != "private":
        result = result.without_exclusive()
    await message.answer(result.as_text(viewer.lang), reply_markup=picks_keyboard(result, viewer.lang))
    await _record_shown(session, result)


async def pick_detail(
    query: CallbackQuery,
    callback_data: PickCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    record = (
        await get_product_by_id(callback_data.id, session=session)
        if 0 < callback_data.id <= _MAX_ID
        else None
    )
    if record is None or (record.item.counterfeit and not viewer.may_see_private(record.merchant_id)):
        await query.answer(t("picks.gone", viewer.lang), show_alert=True)
        return
    item = record.item
    markup = card_keyboard(  # sent to a private chat
        item, viewer.lang, with_sample=not viewer.owns(record.merchant_id), webapp_url=settings.webapp_url
    )
    exclusive = await own_rate(viewer, item.id, session=session)
    mark = await viewer_mark(viewer, item.sku, settings, session)
    card = product_card(item, viewer.lang, exclusive=exclusive, mark=mark)
    await send_card(bot, query.from_user.id, card, markup, item.image_url)
    await query.answer()


def _without_product(markup: InlineKeyboardMarkup | None, product_id: int) -> InlineKeyboardMarkup | None:
    """The pick keyboard minus the row of one product (its 详情 and 不感兴趣)."""
    if markup is None:
        return None
    rows = []
    for row in markup.inline_keyboard:
        kept = []
        for button in row:
            data = button.callback_data or ""
            if data.startswith(PickCb.__prefix__ + ":"):
                try:
                    cb: PickCb | None = PickCb.unpack(data)
                except (TypeError, ValueError):
                    cb = None
                if cb is not None and cb.action in ("d", "n") and cb.id == product_id:
                    continue
            kept.append(button)
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def pick_not_interested(
    query: CallbackQuery, callback_data: PickCb, session: AsyncSession, viewer: Viewer
) -> None:
    brief = (
        await catalog.product_brief(callback_data.id, session=session)
        if 0 < callback_data.id <= _MAX_ID
        else None
    )
    if brief is None:
        await query.answer(t("picks.gone", viewer.lang), show_alert=True)
        return
    await profiles.ensure_user(viewer.telegram_id, language=viewer.lang, session=session)
    await pick_history.mark_not_interested(viewer.telegram_id, brief.sku, session=session)
    title = brief.title if len(brief.title) <= 40 else brief.title[:39] + "…"
    await query.answer(t("picks.noted", viewer.lang, title=title, sku=brief.sku)[:200])
    message = query.message
    if isinstance(message, Message) and message.reply_markup is not None:
        markup = _without_product(message.reply_markup, brief.id)
        if markup != message.reply_markup:
            try:
                await message.edit_reply_markup(reply_markup=markup)
            except TelegramBadRequest as exc:  # too old to edit, or already edited: the note stands
                logger.info("could not edit the picks keyboard: %s", exc.message)


async def pick_more(
    query: CallbackQuery,
    callback_data: PickCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
    settings: Settings,
) -> None:
    page = max(0, min(callback_data.page, MAX_PAGE))
    context = await picks_context(sessionmaker)
    result = await _today_picks(session, context, viewer, settings, page=page)
    if not result.picks:
        await query.answer(t("picks.none_more", viewer.lang), show_alert=True)
        return
    if query.message is None or query.message.chat.type != "private":
        result = result.without_exclusive()
    text, markup = result.as_text(viewer.lang), picks_keyboard(result, viewer.lang)
    message = query.message
    edited = False
    if isinstance(message, Message) and message.text:
        try:
            await message.edit_text(text, reply_markup=markup)
            edited = True
        except TelegramBadRequest as exc:
            logger.info("could not edit the picks message, sending a new one: %s", exc.message)
    if not edited:
        await bot.send_message(query.from_user.id, text, reply_markup=markup)
    await _record_shown(session, result)
    await query.answer()


async def pick_action_unknown(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("picks.bad_button", viewer.lang), show_alert=True)


# --------------------------------------------------------------------------------------------
# /categories


async def _categories_view(
    session: AsyncSession, context: PicksContext, viewer: Viewer
) -> tuple[str, InlineKeyboardMarkup | None]:
    profile = await profiles.get_profile(viewer.telegram_id, session=session)
    own, has_sales = context.own_mix(viewer.telegram_id, profile.chosen)
    [reference] = context.references([(viewer.telegram_id, own, has_sales)])
    text = categories_text(own, has_sales, reference, viewer.lang)
    if has_sales:
        return text, None
    cats = await sales.categories(session=session)
    return text, chooser_keyboard(cats, profile.chosen, viewer.lang)


async def categories_command(
    message: Message, session: AsyncSession, viewer: Viewer, sessionmaker: async_sessionmaker
) -> None:
    context = await picks_context(sessionmaker)
    text, markup = await _categories_view(session, context, viewer)
    await message.answer(text, reply_markup=markup)


async def category_pressed(
    query: CallbackQuery,
    callback_data: CategoryCb,
    session: AsyncSession,
    viewer: Viewer,
    sessionmaker: async_sessionmaker,
) -> None:
    lang = viewer.lang
    context = await picks_context(sessionmaker)
    if context.sales.get(viewer.telegram_id):
        await query.answer(t("categories.from_sales_alert", lang), show_alert=True)
        return
    if callback_data.action == "ok":
        profile = await profiles.get_profile(viewer.telegram_id, session=session)
        await query.answer(t("categories.saved", lang, n=len(profile.chosen)))
        if isinstance(query.message, Message):
            try:
                await query.message.edit_reply_markup(reply_markup=None)
            except TelegramBadRequest as exc:
                logger.info("could not close the chooser: %s", exc.message)
        return
    names = dict(await sales.categories(session=session))
    name = names.get(callback_data.id) if callback_data.action == "t" else None
    if name is None:
        await query.answer(t("categories.gone", lang), show_alert=True)
        return
    profile = await profiles.get_profile(viewer.telegram_id, session=session)
    chosen = [c for c in profile.chosen if c in names.values()]
    if name in chosen:
        chosen.remove(name)
    elif len(chosen) >= profiles.MAX_CHOSEN:
        await query.answer(t("categories.too_many", lang, n=profiles.MAX_CHOSEN), show_alert=True)
        return
    else:
        chosen.append(name)
    await profiles.set_chosen_categories(viewer.telegram_id, chosen, language=lang, session=session)
    text, markup = await _categories_view(session, context, viewer)
    if isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            logger.info("could not update the chooser: %s", exc.message)
    await query.answer()


async def category_unknown(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("categories.gone", viewer.lang), show_alert=True)


# --------------------------------------------------------------------------------------------
# /digest and /tz

_ON = {"on", "开", "开启", "打开", "開", "開啟"}
_OFF = {"off", "关", "关闭", "關", "關閉"}


async def digest_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    arg = unicodedata.normalize("NFKC", command.args or "").strip()
    if not arg:
        profile = await profiles.get_profile(viewer.telegram_id, session=session)
        await message.answer(digest_status(profile, settings, lang) + "\n\n" + t("digest.usage", lang))
        return
    word = arg.lower()
    at = parse_hhmm(arg)
    if word in _ON:
        profile = await profiles.set_digest(viewer.telegram_id, language=lang, enabled=True, session=session)
    elif word in _OFF:
        profile = await profiles.set_digest(viewer.telegram_id, language=lang, enabled=False, session=session)
    elif at is not None:
        profile = await profiles.set_digest(
            viewer.telegram_id, language=lang, enabled=True, at=at.strftime("%H:%M"), session=session
        )
    else:
        await message.answer(t("digest.bad", lang, arg=h(arg[:32])) + "\n\n" + t("digest.usage", lang))
        return
    await message.answer(t("digest.saved", lang) + "\n" + digest_status(profile, settings, lang))


def zone_keyboard(lang: str, now: datetime) -> InlineKeyboardMarkup:
    """The usual zones as buttons, two a row: "北京 · UTC+8"."""
    buttons = []
    for zone in cities().usual:
        label, offset = zone_label(zone, lang), utc_offset(ZoneInfo(zone), now)
        text = label if label == "UTC" else f"{label} · {offset}"
        buttons.append(InlineKeyboardButton(text=text, callback_data=ZoneCb(zone=zone).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def _set_zone(session: AsyncSession, viewer: Viewer, settings: Settings, zone_name: str) -> str:
    """Save the zone; the confirmation names it, the local time now and the next digest slot."""
    lang = viewer.lang
    profile = await profiles.set_timezone(viewer.telegram_id, zone_name, language=lang, session=session)
    schedule = Schedule.of(profile.timezone, profile.digest_time, settings)
    now = utcnow()
    local = now.astimezone(schedule.zone)
    next_slot = slot_utc(schedule.today(now), schedule.at, schedule.zone).astimezone(schedule.zone)
    return t("tz.saved", lang, zone=h(zone_name), now=local.strftime("%H:%M"), at=next_slot.strftime("%H:%M"))


async def tz_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    """`/tz 北京`, `/tz Berlin`, `/tz Asia/Tokyo`; without a zone (or with an unknown one), the usual ones."""
    lang = viewer.lang
    arg = (command.args or "").strip()
    zone_name = resolve_zone(arg) if arg else None
    if zone_name is not None:
        await message.answer(await _set_zone(session, viewer, settings, zone_name))
        return
    if arg:
        head = t("tz.bad", lang, arg=h(arg[:64]))
    else:
        profile = await profiles.get_profile(viewer.telegram_id, session=session)
        zone = Schedule.of(profile.timezone, profile.digest_time, settings).zone
        head = t("tz.current", lang, zone=h(zone.key))
    await message.answer(head + "\n\n" + t("tz.usage", lang), reply_markup=zone_keyboard(lang, utcnow()))


async def zone_pressed(
    query: CallbackQuery,
    callback_data: ZoneCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
) -> None:
    zone_name = resolve_zone(callback_data.zone)  # a forged payload names no zone, and changes nothing
    if zone_name is None:
        await query.answer(t("tz.bad_button", viewer.lang), show_alert=True)
        return
    text = await _set_zone(session, viewer, settings, zone_name)
    if not await edit_in_place(query.message, text, None):
        await bot.send_message(query.from_user.id, text)
    await query.answer()


# --------------------------------------------------------------------------------------------
# /watch


async def watch_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, catalog: CatalogIndex
) -> None:
    lang = viewer.lang
    arg = unicodedata.normalize("NFKC", command.args or "").strip()
    if not arg:
        text, markup = watches_view(await watches.list_watches(viewer.telegram_id, session=session), lang)
        await message.answer(text + ("" if markup else "\n\n" + t("watch.usage", lang)), reply_markup=markup)
        return
    arg = arg[:100]
    index = catalog.current  # names resolve through the search engine, as in /search
    product = await product_brief_by_sku(arg, session=session)
    if product is None:
        position = index.sku_position(arg)  # any letter case, width or punctuation of a sku
        if position is not None:
            product = await product_brief_by_sku(index.items[position].sku, session=session)
    if product is not None and not product.counterfeit:
        kind, target = "product", product.sku
    else:
        brand = find_brand(index, arg) or await find_catalog_brand(arg, session=session)
        if brand is None:
            found = search(index, arg, limit=3).hits
            if found:  # a product name: say which skus it could mean
                lines = "\n".join(
                    f"• <code>{h(hit.item.sku)}</code> {h(hit.item.title[:40])}" for hit in found
                )
                await message.answer(t("watch.candidates", lang, arg=h(arg[:64]), lines=lines))
                return
            await message.answer(
                t("watch.not_found", lang, arg=h(arg[:64])) + "\n\n" + t("watch.usage", lang)
            )
            return
        kind, target = "brand", brand
    added = await watches.add_watch(viewer.telegram_id, kind, target, language=lang, session=session)
    if added is None:
        await message.answer(t("watch.too_many", lang, n=watches.MAX_WATCHES))
        return
    _watch, created = added
    if kind == "product":
        assert product is not None
        text = t(
            "watch.added_product" if created else "watch.already_product",
            lang,
            title=h(product.title[:60]),
            sku=h(product.sku),
            tier=tier_label(product.tier, lang),
            commission=percent(product.commission_rate),
        )
    else:
        text = t("watch.added_brand" if created else "watch.already_brand", lang, brand=h(target))
    await message.answer(text)


async def watch_pressed(
    query: CallbackQuery, callback_data: WatchCb, session: AsyncSession, viewer: Viewer
) -> None:
    lang = viewer.lang
    removed = (
        await watches.remove_watch(viewer.telegram_id, callback_data.id, session=session)
        if callback_data.action == "rm" and 0 < callback_data.id <= _MAX_ID
        else None
    )
    if removed is None:
        await query.answer(t("watch.gone", lang), show_alert=True)
        return
    await query.answer(t("watch.stopped", lang, target=removed.target[:60]))
    if isinstance(query.message, Message):
        text, markup = watches_view(await watches.list_watches(viewer.telegram_id, session=session), lang)
        try:
            await query.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as exc:
            logger.info("could not update the watch list: %s", exc.message)


async def zone_unknown(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("tz.bad_button", viewer.lang), show_alert=True)


async def watch_unknown(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("watch.gone", viewer.lang), show_alert=True)


# --------------------------------------------------------------------------------------------


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(RoleFilter(STREAMER, ADMIN))
    router.callback_query.filter(RoleFilter(STREAMER, ADMIN))

    router.message.register(picks_command, Command("picks"))
    router.message.register(categories_command, Command("categories"))
    router.message.register(digest_command, Command("digest"))
    router.message.register(tz_command, Command("tz"))
    router.message.register(watch_command, Command("watch"))

    router.callback_query.register(pick_detail, PickCb.filter(F.action == "d"))
    router.callback_query.register(pick_not_interested, PickCb.filter(F.action == "n"))
    router.callback_query.register(pick_more, PickCb.filter(F.action == "m"))
    router.callback_query.register(category_pressed, CategoryCb.filter())
    router.callback_query.register(watch_pressed, WatchCb.filter())
    router.callback_query.register(zone_pressed, ZoneCb.filter())
    # A forged, stale or malformed payload under our prefixes: a polite answer, never an error.
    router.callback_query.register(pick_action_unknown, Prefixed(PickCb.__prefix__))
    router.callback_query.register(category_unknown, Prefixed(CategoryCb.__prefix__))
    router.callback_query.register(watch_unknown, Prefixed(WatchCb.__prefix__))
    router.callback_query.register(zone_unknown, Prefixed(ZoneCb.__prefix__))
    return router
