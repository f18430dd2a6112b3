"""/grade SKU and the "评分" button: the grade card and its radar chart.

A sku is found in any letter case (`nfsq-00005`); a name that is no sku is searched for instead
(`/grade 牙膏` lists toothpaste), through the same engine as every other search.

Everyone sees the public card (tier, badges, price, commission, five dimensions); the owning
merchant and admins also see the 11 indicators, gates, levers and tier history, and only in a
private chat, so a press in a group never posts private figures there. Every press is checked
again: a button carries nothing but a product id.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiogram import Bot, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.chart import dimension_labels, radar_png
from bot.i18n import t
from bot.keyboards import GradeCb, MyGoodsCb, Prefixed, card_keyboard, valid_id
from bot.render import chart_headline, grade_card, h, split_message
from bot.services import CatalogIndex
from bot.settings import Settings
from core.catalog import CatalogItem
from core.grading import Grade, grade
from core.policy import Policy
from core.search import search
from handlers.leaders import viewer_mark
from handlers.replies import viewer_zone
from handlers.search import clean_query, own_for, own_rate, send_results
from storage.catalog import ProductRecord, any_sku, get_product, get_product_by_id
from storage.merchants import category_average
from storage.regrade import normalise_sku
from storage.tier_changes import tier_history
from storage.users import Viewer

logger = logging.getLogger(__name__)


async def find_record(session: AsyncSession, sku: str) -> ProductRecord | None:
    """A product by sku as typed (full-width forms folded as the importer stores them)."""
    record = await get_product(sku, session=session)
    if record is None and normalise_sku(sku) != sku:
        record = await get_product(normalise_sku(sku), session=session)
    return record


async def card_for(
    session: AsyncSession,
    record: ProductRecord,
    viewer: Viewer,
    policy: Policy,
    settings: Settings,
    *,
    in_private: bool = True,
) -> str | None:
    """The card `viewer` may see of `record`, or None when the product is hidden from them."""
    owner_view = viewer.may_see_private(record.merchant_id)
    if record.item.counterfeit and not owner_view:
        return None  # hidden from everyone but its merchant and admins
    if not owner_view:
        # A streamer's own 专属 rate, in their private chat only: a group must never see it.
        exclusive, mark = None, None
        if in_private:
            exclusive = await own_rate(viewer, record.item.id, session=session)
            mark = await viewer_mark(viewer, record.item.sku, settings, session)  # their team's activity
        return grade_card(record.item, viewer.lang, exclusive=exclusive, mark=mark)
    if not in_private:
        return grade_card(record.item, viewer.lang) + "\n\n" + t("grade.private_in_group", viewer.lang)
    result = grade(record.indicators, policy, record.tags)
    history = await tier_history(record.item.id, session=session)
    zone = viewer_zone(viewer, settings)
    return grade_card(
        record.item, viewer.lang, private=(record.indicators, result), history=history, zone=zone
    )


# --------------------------------------------------------------------------- the chart


@dataclass(frozen=True, slots=True)
class Chart:
    png: bytes
    caption: str
    filename: str


async def chart_for(session: AsyncSession, item: CatalogItem, result: Grade, lang: str) -> Chart | None:
    """The radar chart of the item's five dimensions against its category's average (None if it fails);
    its heading names the tier, the score and the points to the next tier."""
    average = await category_average(item.category, session=session) or dict(item.dimensions)
    labels = dimension_labels(lang)  # also the axes' order
    headline = chart_headline(result, lang)
    try:
        png = await asyncio.to_thread(
            radar_png,
            dict(item.dimensions),
            average,
            labels=labels,
            title=item.title[:80],
            headline=headline,
            lang=lang,
        )
    except (ValueError, RuntimeError, OSError) as exc:  # the card went out already; the chart is extra
        logger.warning("radar chart for %s failed: %s", item.sku, exc)
        return None
    caption = t("grade.chart_caption", lang, title=h(item.title[:200]), category=h(item.category))
    return Chart(png, caption, f"{item.sku[:40]}.png")


def chart_keyboard(
    record: ProductRecord, viewer: Viewer, *, in_private: bool, webapp_url: str | None = None
) -> InlineKeyboardMarkup | None:
    """Under the chart: the card's buttons (share, 申请样品 in private), in private the product in the
    Mini App (when there is one: Telegram allows those buttons in private chats only), and for its
    owner or an admin in private, a way back to all of that merchant's goods."""
    own = viewer.owns(record.merchant_id)
    markup = card_keyboard(
        record.item,
        viewer.lang,
        with_grade=False,
        with_sample=in_private and not own,
        webapp_url=webapp_url if in_private else None,
    )
    rows = list(markup.inline_keyboard) if markup is not None else []
    if in_private and viewer.may_see_private(record.merchant_id):
        data = MyGoodsCb(merchant_id=record.merchant_id).pack()
        rows.append([InlineKeyboardButton(text=t("grade.all_goods", viewer.lang), callback_data=data)])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def send_card(
    bot: Bot,
    chat_id: int,
    session: AsyncSession,
    record: ProductRecord,
    text: str,
    viewer: Viewer,
    policy: Policy,
    *,
    in_private: bool,
    thread_id: int | None = None,
    webapp_url: str | None = None,
) -> None:
    """The card (split under Telegram's limit), then the chart as a photo."""
    for chunk in split_message(text):
        await bot.send_message(chat_id, chunk, message_thread_id=thread_id)
    result = grade(record.indicators, policy, record.tags)
    chart = await chart_for(session, record.item, result, viewer.lang)
    if chart is not None:
        markup = chart_keyboard(record, viewer, in_private=in_private, webapp_url=webapp_url)
        await bot.send_photo(
            chat_id,
            BufferedInputFile(chart.png, filename=chart.filename),
            caption=chart.caption,
            reply_markup=markup,
            message_thread_id=thread_id,
        )


# --------------------------------------------------------------------------- handlers


async def grade_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    policy: Policy,
    settings: Settings,
    catalog: CatalogIndex,
) -> None:
    sku = (command.args or "").strip()
    if not sku:
        example = await any_sku(viewer.merchant_id, session=session) or "SKU-0001"
        await message.answer(t("grade.usage", viewer.lang, example=h(example)))
        return
    in_private = message.chat.type == "private"
    record = await find_record(session, sku)
    if record is None:  # any letter case, width or punctuation of a sku the search index knows
        position = catalog.current.sku_position(sku)
        if position is not None:
            record = await get_product(catalog.current.items[position].sku, session=session)
    if record is None:
        query = clean_query(sku)
        if query and search(catalog.current, query, limit=1, include_hidden=viewer.is_admin).hits:
            own = await own_for(viewer, settings, session, private=in_private)
            await send_results(message, query, viewer, catalog, own)  # a name, not a sku: search for it
            return
    text = (
        None
        if record is None
        else await card_for(session, record, viewer, policy, settings, in_private=in_private)
    )
    if record is None or text is None:
        await message.answer(t("grade.not_found", viewer.lang, sku=h(sku[:64])))
        return
    thread = message.message_thread_id if message.is_topic_message else None
    await send_card(
        bot,
        message.chat.id,
        session,
        record,
        text,
        viewer,
        policy,
        in_private=in_private,
        thread_id=thread,
        webapp_url=settings.webapp_url,
    )


async def grade_pressed(
    query: CallbackQuery,
    callback_data: GradeCb,
    bot: Bot,
    session: AsyncSession,
    viewer: Viewer,
    policy: Policy,
    settings: Settings,
) -> None:
    """The "评分" button: whoever pressed it gets what they may see, where they may see it."""
    pid = callback_data.product_id
    record = await get_product_by_id(pid, session=session) if valid_id(pid) else None
    if record is None or (record.item.counterfeit and not viewer.may_see_private(record.merchant_id)):
        await query.answer(t("grade.gone", viewer.lang), show_alert=True)
        return
    message = query.message
    if isinstance(message, Message):
        chat_id, in_private = message.chat.id, message.chat.type == "private"
    else:  # an inline card in some other chat: the full card goes to the presser's private chat
        chat_id, in_private = query.from_user.id, True
    text = await card_for(session, record, viewer, policy, settings, in_private=in_private)
    assert text is not None
    try:
        await send_card(
            bot,
            chat_id,
            session,
            record,
            text,
            viewer,
            policy,
            in_private=in_private,
            webapp_url=settings.webapp_url,
        )
    except (TelegramForbiddenError, TelegramBadRequest) as exc:
        if chat_id != query.from_user.id:
            raise
        logger.info("grade card to %s not delivered: %s", chat_id, exc)
        await query.answer(t("grade.start_first", viewer.lang), show_alert=True)
        return
    await query.answer()


async def stale_button(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("grade.stale", viewer.lang), show_alert=True)


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.register(grade_command, Command("grade"))
    router.callback_query.register(grade_pressed, GradeCb.filter())
    router.callback_query.register(stale_button, Prefixed(GradeCb.__prefix__))
    return router
