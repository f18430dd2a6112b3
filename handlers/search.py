"""Search in chat: any text in a private chat, `/search QUERY` anywhere; pages of 5; the product card.

Buttons carry short ids only: a product id, a page number and an 8-character key of the query
(`sp:<key>:<page>`, `so:<id>:<key>:<page>`, `sg:<key>:<i>`). The query itself is kept in a small
per-user LRU and in the message it produced (its `🔎 query` line), so a page still turns after a
restart when Telegram hands the message back; a key that matches neither is a polite "search
expired". Every press re-runs the search, or re-reads the product, with the presser's rights:
a forged button opens nothing hidden, and a malformed one gets a polite answer, never an error.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import button, card_keyboard
from bot.render import (
    badges_text,
    category_name,
    commission_text,
    h,
    mark_text,
    money,
    percent,
    product_card,
    split_message,
    tier_label,
)
from bot.services import CatalogIndex
from bot.settings import Settings
from core.activities import Mark
from core.catalog import CatalogItem
from core.search import SearchFilters, SearchResult, search
from core.search.normalize import MAX_QUERY_CHARS
from handlers.filters import PlainText, PrivateChat
from handlers.leaders import viewer_mark, viewer_marks
from handlers.replies import answer_for_ids, show_in_place
from storage.catalog import get_product_by_id
from storage.offers import live_rates, offer_for
from storage.tables import utcnow
from storage.users import Viewer

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
MAX_PAGE = 1000  # a forged page number must not make the engine sort a million items
QUERY_MARK = "🔎 "  # the line of a results message (and of a card opened from it) that holds the query
_MAX_PRODUCT_ID = 2**31 - 1


class SearchPage(CallbackData, prefix="sp"):
    """A page of results: `sp:<query key>:<page>` (page counts from 0)."""

    q: str
    p: int

    @staticmethod
    def data(q: str, p: int) -> str:
        """`SearchPage(q=q, p=p).pack()` without building the model: results pages are the hottest
        reply, and `q` is a query_key (never the separator)."""
        return f"sp:{q}:{p}"


class SearchOpen(CallbackData, prefix="so"):
    """Open a product card from a results page: `so:<product id>:<query key>:<page to go back to>`."""

    id: int
    q: str
    p: int

    @staticmethod
    def data(id: int, q: str, p: int) -> str:  # noqa: A002 - the field's name
        """`SearchOpen(id=id, q=q, p=p).pack()` without building the model (see SearchPage.data)."""
        return f"so:{id}:{q}:{p}"


class SearchSuggest(CallbackData, prefix="sg"):
    """Run the i-th "did you mean" suggestion of a query that found nothing: `sg:<query key>:<i>`."""

    q: str
    i: int


# --------------------------------------------------------------------------- queries


def clean_query(text: str | None) -> str:
    """What is searched and shown: whitespace collapsed, cut to the engine's length limit."""
    return " ".join((text or "").split())[:MAX_QUERY_CHARS].strip()


def query_key(query: str) -> str:
    """An 8-character key of a query for callback data (base64url: never the ':' separator)."""
    digest = hashlib.blake2b(query.encode("utf-8"), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


class RecentQueries:
    """Each user's recent queries by key, bounded per user and in users (least recently used go)."""

    def __init__(self, per_user: int = 16, users: int = 5000) -> None:
        self.per_user = per_user
        self.users = users
        self._by_user: OrderedDict[int, OrderedDict[str, str]] = OrderedDict()

    def remember(self, user_id: int, query: str) -> str:
        key = query_key(query)
        mine = self._by_user.get(user_id)
        if mine is None:
            mine = self._by_user[user_id] = OrderedDict()
            while len(self._by_user) > self.users:
                self._by_user.popitem(last=False)
        else:
            self._by_user.move_to_end(user_id)
        mine[key] = query
        mine.move_to_end(key)
        while len(mine) > self.per_user:
            mine.popitem(last=False)
        return key

    def recall(self, user_id: int, key: str) -> str | None:
        mine = self._by_user.get(user_id)
        if mine is None or key not in mine:
            return None
        self._by_user.move_to_end(user_id)
        mine.move_to_end(key)
        return mine[key]


def query_in_message(message: object, key: str) -> str | None:
    """The query whose key is `key`, read back from the `🔎 query` line of the message it produced."""
    body = (message.text or message.caption) if isinstance(message, Message) else None
    if not body:  # a card with a photo keeps the query in its caption
        return None
    for line in body.split("\n"):
        if line.startswith(QUERY_MARK):
            candidate = clean_query(line[len(QUERY_MARK) :])
            if candidate and query_key(candidate) == key:
                return candidate
    return None


# --------------------------------------------------------------------------- rendering


@dataclasses.dataclass(frozen=True, slots=True)
class View:
    """A reply: HTML text, its buttons, and the photo it goes with (a card's, when it has one)."""

    text: str
    markup: InlineKeyboardMarkup | None = None
    photo: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Own:
    """What only the viewer may read on results, in a private chat: their team's activity marks and
    their exclusive (专属) rates, by sku."""

    marks: Mapping[str, Mark] = dataclasses.field(default_factory=dict)
    rates: Mapping[str, float] = dataclasses.field(default_factory=dict)


NOBODY = Own()


async def own_for(viewer: Viewer, settings: Settings, session: AsyncSession, *, private: bool) -> Own:
    """The viewer's own marks and rates; nothing outside a private chat, where others would read them.
    Rates are looked up only when an offer to them may be live (the Viewer says), as their cards do
    (never for an admin, whose cards show the private view instead)."""
    if not private:
        return NOBODY
    marks = await viewer_marks(viewer, settings, session)
    now = utcnow()
    rates: Mapping[str, float] = {}
    if viewer.may_hold_offers(now) and not viewer.is_admin:
        rates = (await live_rates([viewer.telegram_id], now=now, session=session)).get(viewer.telegram_id, {})
    return Own(marks, rates) if marks or rates else NOBODY


async def own_rate(viewer: Viewer, product_id: int, *, session: AsyncSession) -> float | None:
    """The viewer's live exclusive (专属) rate on a product, if any. No query for the many who hold no
    offer that may be live (the Viewer says when their last one ends)."""
    now = utcnow()
    if not viewer.may_hold_offers(now):
        return None
    offer = await offer_for(viewer.telegram_id, product_id, now=now, session=session)
    return offer.rate if offer is not None else None


def is_hidden(item: CatalogItem) -> bool:
    """L0 and counterfeit goods are never shown to streamers."""
    return item.tier == "L0" or item.counterfeit


def _number(value: float) -> str:
    return f"{value:g}"


def filters_text(filters: SearchFilters, lang: str) -> str:
    parts = []
    if filters.tier:
        parts.append(t("search.filter_tier", lang, tier=filters.tier))
    if filters.min_tier:
        parts.append(t("search.filter_min_tier", lang, tier=filters.min_tier))
    if filters.price_min is not None and filters.price_max is not None:
        parts.append(
            t("search.filter_price_range", lang, lo=_number(filters.price_min), hi=_number(filters.price_max))
        )
    elif filters.price_max is not None:
        parts.append(t("search.filter_price_max", lang, hi=_number(filters.price_max)))
    elif filters.price_min is not None:
        parts.append(t("search.filter_price_min", lang, lo=_number(filters.price_min)))
    if filters.min_commission is not None:
        parts.append(t("search.filter_commission", lang, rate=percent(filters.min_commission, 0)))
    return " · ".join(parts)


def result_line(
    n: int, item: CatalogItem, lang: str, mark: Mark | None = None, exclusive: float | None = None
) -> str:
    """One numbered result: title; tier, price, commission (the viewer's own 专属 rate when they hold
    one), sku; badges; the viewer's team activity."""
    facts = [
        tier_label(item.tier, lang),
        money(item.price),
        t("search.line_commission", lang, rate=commission_text(item.commission_rate, exclusive, lang)),
        f"<code>{h(item.sku)}</code>",
    ]
    lines = [f"{n}. <b>{h(item.title)}</b>", "    " + " · ".join(facts)]
    extra = badges_text(item.badges, lang)
    if is_hidden(item):
        extra = f"{extra} · {t('search.hidden', lang)}" if extra else t("search.hidden", lang)
    if extra:
        lines.append("    " + extra)
    if mark is not None:
        lines.append("    " + mark_text(mark, lang))
    return "\n".join(lines)


def results_view(
    query: str,
    key: str,
    result: SearchResult,
    page: int,
    lang: str,
    own: Own | None = None,
) -> View:
    """A page of results with numbered buttons and previous/next; or the suggestions if none.
    `own`: what this viewer alone may read on them (private chats only)."""
    header = [t("search.header", lang, query=h(query))]
    if result.filters:
        header.append(t("search.filters", lang, filters=filters_text(result.filters, lang)))
    if not result.hits:
        return nothing_view(header, key, result.suggestions, lang)
    pages = max(1, math.ceil(result.total / PAGE_SIZE))
    header.append(t("search.count", lang, total=result.total, page=page + 1, pages=pages))
    first = page * PAGE_SIZE + 1
    own = own or NOBODY
    body = [
        result_line(first + i, hit.item, lang, own.marks.get(hit.item.sku), own.rates.get(hit.item.sku))
        for i, hit in enumerate(result.hits)
    ]
    # The markup is built directly: InlineKeyboardBuilder deep-copies every button, and this is the
    # hottest reply of the bot (benchmarks/updates_throughput.py).
    rows = [
        [button(str(first + i), SearchOpen.data(hit.item.id, key, page)) for i, hit in enumerate(result.hits)]
    ]
    paging = []
    if page > 0:
        paging.append(button(t("search.prev", lang), SearchPage.data(key, page - 1)))
    if page + 1 < pages:
        paging.append(button(t("search.next", lang), SearchPage.data(key, page + 1)))
    if paging:
        rows.append(paging)
    return View("\n".join(header) + "\n\n" + "\n\n".join(body), InlineKeyboardMarkup(inline_keyboard=rows))


def nothing_view(header: list[str], key: str, suggestions: Sequence[str], lang: str) -> View:
    lines = [*header, "", t("search.nothing", lang)]
    if not suggestions:
        lines.append(t("search.try_again", lang))
        return View("\n".join(lines))
    names = [category_name(s, lang) for s in suggestions]  # English readers get English categories
    lines.append(t("search.did_you_mean", lang, names=" · ".join(h(s) for s in names)))
    kb = InlineKeyboardBuilder()
    for i, name in enumerate(names):
        kb.button(text=name[:60], callback_data=SearchSuggest(q=key, i=i))
    kb.adjust(3)
    return View("\n".join(lines), kb.as_markup())


def card_view(
    item: CatalogItem,
    lang: str,
    *,
    query: str | None,
    key: str,
    page: int,
    with_grade: bool,
    with_sample: bool = True,
    webapp_url: str | None = None,
    mark: Mark | None = None,
    exclusive: float | None = None,
) -> View:
    """The product card, with a way back to the results it was opened from (and, given `webapp_url`,
    the product in the Mini App); `exclusive` is the viewer's own 专属 rate on it (private chats only)."""
    text = product_card(item, lang, exclusive=exclusive, mark=mark)
    back = None
    if query is not None:
        text += f"\n\n{QUERY_MARK}{h(query)}"
        back = InlineKeyboardButton(
            text=t("search.back", lang), callback_data=SearchPage(q=key, p=page).pack()
        )
    markup = card_keyboard(
        item,
        lang,
        back=back,
        with_grade=with_grade,
        with_sample=with_sample and with_grade,
        webapp_url=webapp_url,
    )
    return View(text, markup, item.image_url)


def usage_view(lang: str) -> View:
    return View(t("search.usage", lang))


def search_page(catalog: CatalogIndex, query: str, page: int, viewer: Viewer) -> SearchResult:
    """A page of results as `viewer` may see them; suggestions only that find something for them."""
    index = catalog.current  # read once: a refresh swaps in a new index, never changes this one
    hidden = viewer.is_admin  # admins see L0 and counterfeit goods too, marked as hidden
    result = search(index, query, limit=PAGE_SIZE, offset=page * PAGE_SIZE, include_hidden=hidden)
    if result.suggestions:
        # Offer only names that find something this viewer may see: no dead ends, and no brand
        # that only hidden (L0, counterfeit) goods carry.
        live = [s for s in result.suggestions if search(index, s, limit=1, include_hidden=hidden).hits]
        result = dataclasses.replace(result, suggestions=live)
    return result


async def send_results(
    message: Message, query: str, viewer: Viewer, catalog: CatalogIndex, own: Own | None = None
) -> None:
    """Answer `query` with its first page of results (also for a /grade or /watch that names no sku):
    the key is the query's own, so its buttons work from the message even without the LRU."""
    result = search_page(catalog, query, 0, viewer)
    await _send(message, results_view(query, query_key(query), result, 0, viewer.lang, own))


# --------------------------------------------------------------------------- handlers


class SearchHandlers:
    """The search feature's handlers, sharing one dispatcher's memory of recent queries."""

    def __init__(self, recent: RecentQueries | None = None) -> None:
        self.recent = recent or RecentQueries()

    # -- messages

    async def on_text(
        self,
        message: Message,
        viewer: Viewer,
        catalog: CatalogIndex,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        """Any plain text in a private chat is a search."""
        if message.via_bot is not None:
            return  # a card shared through inline mode, not something the user typed
        own = await own_for(viewer, settings, session, private=True)
        await self._search(message, message.text, viewer, catalog, own)

    async def on_command(
        self,
        message: Message,
        command: CommandObject,
        viewer: Viewer,
        catalog: CatalogIndex,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        """`/search QUERY`, in groups and in private (the viewer's own marks and rates in private only)."""
        own = await own_for(viewer, settings, session, private=message.chat.type == "private")
        await self._search(message, command.args, viewer, catalog, own)

    async def _search(
        self,
        message: Message,
        text: str | None,
        viewer: Viewer,
        catalog: CatalogIndex,
        own: Own,
    ) -> None:
        query = clean_query(text)
        if not query:
            await _send(message, usage_view(viewer.lang))
            return
        key = self.recent.remember(viewer.telegram_id, query)
        result = self._page(catalog, query, 0, viewer)
        await _send(message, results_view(query, key, result, 0, viewer.lang, own))

    def _page(self, catalog: CatalogIndex, query: str, page: int, viewer: Viewer) -> SearchResult:
        return search_page(catalog, query, page, viewer)

    # -- buttons

    def _recall(self, callback: CallbackQuery, viewer: Viewer, key: str) -> str | None:
        query = self.recent.recall(viewer.telegram_id, key)
        if query is None:
            query = query_in_message(callback.message, key)
            if query is not None:
                self.recent.remember(viewer.telegram_id, query)
        return query

    async def on_page(
        self,
        callback: CallbackQuery,
        callback_data: SearchPage,
        viewer: Viewer,
        catalog: CatalogIndex,
        bot: Bot,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        query = self._recall(callback, viewer, callback_data.q)
        if query is None:
            await callback.answer(t("search.expired", viewer.lang))
            return
        in_private = callback.message is not None and callback.message.chat.type == "private"
        own = await own_for(viewer, settings, session, private=in_private)
        page = min(max(callback_data.p, 0), MAX_PAGE)
        result = self._page(catalog, query, page, viewer)
        if not result.hits and result.total > 0:  # the catalog shrank under this page: show the last one
            page = min(page, math.ceil(result.total / PAGE_SIZE) - 1)
            result = self._page(catalog, query, page, viewer)
        await _show(callback, bot, results_view(query, callback_data.q, result, page, viewer.lang, own))
        await callback.answer()

    async def on_open(
        self,
        callback: CallbackQuery,
        callback_data: SearchOpen,
        viewer: Viewer,
        session: AsyncSession,
        bot: Bot,
        settings: Settings,
    ) -> None:
        record = None
        if 0 < callback_data.id <= _MAX_PRODUCT_ID:
            record = await get_product_by_id(callback_data.id, session=session)
        private = record is not None and viewer.may_see_private(record.merchant_id)
        if record is None or (is_hidden(record.item) and not private):
            await callback.answer(t("search.gone", viewer.lang), show_alert=True)
            return
        query = self._recall(callback, viewer, callback_data.q)
        page = min(max(callback_data.p, 0), MAX_PAGE)
        in_private = callback.message is not None and callback.message.chat.type == "private"
        exclusive = None
        if in_private and not private:  # a streamer's own 专属 rate: never in a group, never to its merchant
            exclusive = await own_rate(viewer, record.item.id, session=session)
        view = card_view(
            record.item,
            viewer.lang,
            query=query,
            key=callback_data.q,
            page=page,
            with_grade=True,  # the grade card (public view for strangers) + radar chart
            with_sample=not viewer.owns(record.merchant_id),  # nobody asks themselves for a sample
            webapp_url=settings.webapp_url if in_private else None,  # Telegram allows it in private only
            mark=await viewer_mark(viewer, record.item.sku, settings, session) if in_private else None,
            exclusive=exclusive,
        )
        await _show(callback, bot, view)
        await callback.answer()

    async def on_suggestion(
        self,
        callback: CallbackQuery,
        callback_data: SearchSuggest,
        viewer: Viewer,
        catalog: CatalogIndex,
        bot: Bot,
        session: AsyncSession,
        settings: Settings,
    ) -> None:
        original = self._recall(callback, viewer, callback_data.q)
        if original is None:
            await callback.answer(t("search.expired", viewer.lang))
            return
        suggestions = self._page(catalog, original, 0, viewer).suggestions
        if not 0 <= callback_data.i < len(suggestions):
            await callback.answer(t("search.page_gone", viewer.lang))
            return
        query = clean_query(suggestions[callback_data.i])
        key = self.recent.remember(viewer.telegram_id, query)
        result = self._page(catalog, query, 0, viewer)
        in_private = callback.message is not None and callback.message.chat.type == "private"
        own = await own_for(viewer, settings, session, private=in_private)
        await _show(callback, bot, results_view(query, key, result, 0, viewer.lang, own))
        await callback.answer()

    async def on_stale_button(self, callback: CallbackQuery, viewer: Viewer) -> None:
        """Any button no handler took (malformed, forged, or from an old version): a polite answer."""
        logger.info("unhandled callback data %r from %s", (callback.data or "")[:64], viewer.telegram_id)
        await callback.answer(t("search.bad_button", viewer.lang))


async def _send(message: Message, view: View) -> None:
    """Reply in the message's chat, split under Telegram's limit; the buttons go on the last part."""
    chunks = split_message(view.text)
    for i, chunk in enumerate(chunks):
        await answer_for_ids(message, chunk, view.markup if i == len(chunks) - 1 else None)


async def _show(callback: CallbackQuery, bot: Bot, view: View) -> None:
    """Show `view` in place of the pressed message (a card with its photo when it has one)."""
    await show_in_place(callback, bot, view.text, view.markup, view.photo)


def make_router() -> Router:
    """The search router; registered after every command router (plain text is a search)."""
    router = Router(name=__name__)
    handlers = SearchHandlers()
    router.message.register(handlers.on_command, Command("search"))
    router.message.register(handlers.on_text, PrivateChat(), PlainText())
    router.callback_query.register(handlers.on_page, SearchPage.filter())
    router.callback_query.register(handlers.on_open, SearchOpen.filter())
    router.callback_query.register(handlers.on_suggestion, SearchSuggest.filter())
    # Last of all: this is the last router with callbacks, so it answers every button nobody took.
    router.callback_query.register(handlers.on_stale_button)
    return router
