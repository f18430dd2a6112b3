"""Inline mode: `@bot query` in any chat lists product cards to share (the streamer's view only).

Up to 50 articles per answer, paged with `next_offset`; `is_personal` because the cards follow
the user's language. An empty query lists the best goods (L4 and up); a query that finds nothing
answers one article saying so, with what to try instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Router
from aiogram.enums import ParseMode
from aiogram.types import (
    InlineQuery,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InlineQueryResultUnion,
    InputTextMessageContent,
)

from bot.i18n import t
from bot.render import category_name, h, money, percent, product_card, tier_label
from bot.services import CatalogIndex
from core.catalog import CatalogItem
from core.search import search
from handlers.search import clean_query
from storage.users import Viewer

INLINE_LIMIT = 50  # Telegram's maximum per answer
MAX_OFFSET = 1000  # nobody scrolls further; keeps a forged offset cheap
CACHE_SECONDS = 10  # small: an import must show up soon
BROWSE_QUERY = "L4+"  # what an empty inline query lists
START_PARAMETER = "search"


def parse_offset(offset: str) -> int:
    """The offset Telegram echoes back from our `next_offset`; anything else starts at 0."""
    return int(offset) if offset.isascii() and offset.isdigit() and len(offset) <= 6 else 0


def article(item: CatalogItem, lang: str) -> InlineQueryResultArticle:
    """One card to share: the title and a one-line summary in the list, the HTML card when sent."""
    description = t(
        "inline.description",
        lang,
        tier=tier_label(item.tier, lang),
        price=money(item.price),
        commission=percent(item.commission_rate),
        sku=item.sku,
    )
    return InlineQueryResultArticle(
        id=f"p{item.id}",
        title=item.title[:128],  # plain text, not HTML
        description=description[:256],
        thumbnail_url=item.image_url,  # the product photo beside the title in the list
        input_message_content=InputTextMessageContent(
            message_text=product_card(item, lang), parse_mode=ParseMode.HTML
        ),
    )


def nothing_article(query: str, suggestions: Sequence[str], lang: str) -> InlineQueryResultArticle:
    """Nothing found: one entry that says so and what to try instead (the closest brands or
    categories), so an inline search never ends blank; the button below opens the bot."""
    names = " · ".join(category_name(s, lang) for s in suggestions[:5]) or t("inline.hint", lang)
    return InlineQueryResultArticle(
        id="nothing",
        title=t("inline.nothing_title", lang, query=query[:64])[:128],
        description=t("inline.nothing_try", lang, names=names)[:256],
        input_message_content=InputTextMessageContent(
            message_text=t("inline.nothing_message", lang, query=h(query[:64]), names=h(names)),
            parse_mode=ParseMode.HTML,
        ),
    )


async def inline_search(inline_query: InlineQuery, viewer: Viewer, catalog: CatalogIndex) -> None:
    query = clean_query(inline_query.query)
    offset = min(parse_offset(inline_query.offset), MAX_OFFSET)
    index = catalog.current  # read once per request
    # Never include_hidden: a shared card is public, whoever shares it.
    result = search(index, query or BROWSE_QUERY, limit=INLINE_LIMIT, offset=offset)
    results: list[InlineQueryResultUnion] = [article(hit.item, viewer.lang) for hit in result.hits]
    if not results and query and offset == 0:
        results.append(nothing_article(query, result.suggestions, viewer.lang))
    end = offset + len(results) if result.hits else offset
    next_offset = str(end) if results and end < min(result.total, MAX_OFFSET) else ""
    button = None
    if offset == 0 and (not query or not result.hits):
        text = t("inline.hint" if not query else "inline.nothing", viewer.lang)
        button = InlineQueryResultsButton(text=text, start_parameter=START_PARAMETER)
    await inline_query.answer(
        results, cache_time=CACHE_SECONDS, is_personal=True, next_offset=next_offset, button=button
    )


def make_router() -> Router:
    router = Router(name=__name__)
    router.inline_query.register(inline_search)
    return router
