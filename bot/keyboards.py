"""Shared `CallbackData` factories (callback data is at most 64 bytes: short ids only).

A button carries only what names the thing it opens; whoever presses it, the handler checks
again who may see or do what. Other features add their own factories in their own modules;
the prefixes here are taken: `gr`, `mg`, `ad`, `pk` (and `sm` in bot/samples.py).
They live in `bot/` because handlers answer them and jobs (alerts, the digest) send them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiogram.filters import BaseFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo

from bot.i18n import t
from bot.samples import sample_button
from core.catalog import CatalogItem
from core.picks import Pick

ALL_TIERS = "A"  # MyGoodsCb.tier for "every tier"
MAX_ID = 2**31 - 1  # ids are 32-bit: a forged bigger one must not reach the database (PostgreSQL rejects it)


def valid_id(value: int) -> bool:
    """Could `value` be a row id? (Forged callback data can hold anything an int parses.)"""
    return 0 < value <= MAX_ID


class GradeCb(CallbackData, prefix="gr"):
    """Open a product's grade card: `gr:<product id>`."""

    product_id: int


class MyGoodsCb(CallbackData, prefix="mg"):
    """A page of one merchant's goods: `mg:<merchant id>:<tier or A>:<page>:<fresh>`.

    `fresh` = 1 sends the page as a new message (from an alert or a card); 0 turns the page in place.
    """

    merchant_id: int
    tier: str = ALL_TIERS
    page: int = 0
    fresh: int = 1


class AdminCb(CallbackData, prefix="ad"):
    """An admin action on one object, e.g. `ad:revoke:K7M3Q9XH` (revoke an invite code)."""

    action: str
    arg: str = ""


def webapp_product_url(webapp_url: str, product_id: int) -> str:
    """The Mini App's address opening one product (the app reads `?product=`)."""
    parts = urlsplit(webapp_url)
    query = urlencode([*parse_qsl(parts.query), ("product", str(product_id))])
    return urlunsplit(parts._replace(query=query, fragment=""))


def webapp_product_button(webapp_url: str, product_id: int, lang: str) -> InlineKeyboardButton:
    """Opens the product's page in the Mini App (Telegram allows these buttons in private chats only)."""
    return InlineKeyboardButton(
        text=t("app.open_product", lang), web_app=WebAppInfo(url=webapp_product_url(webapp_url, product_id))
    )


def grade_button(product_id: int, lang: str) -> InlineKeyboardButton:
    """The "评分 / grade" button for a product card."""
    return InlineKeyboardButton(
        text=t("grade.button", lang), callback_data=GradeCb(product_id=product_id).pack()
    )


def share_button(sku: str, lang: str) -> InlineKeyboardButton:
    """Share the card into another chat: opens the chat picker with `@bot <sku>` (inline mode)."""
    return InlineKeyboardButton(text=t("card.share", lang), switch_inline_query=sku)


def card_keyboard(
    item: CatalogItem,
    lang: str,
    *,
    back: InlineKeyboardButton | None = None,
    with_grade: bool = True,
    with_share: bool = True,
    with_sample: bool = True,
    webapp_url: str | None = None,
) -> InlineKeyboardMarkup | None:
    """The buttons under a product card, wherever it is shown (search, picks): the one place to add one.

    Rows: a way back (when the card was opened from a list), then the card's own actions, then the
    product in the Mini App when `webapp_url` is given (private chats only: Telegram refuses
    web_app buttons elsewhere).
    """
    rows: list[list[InlineKeyboardButton]] = []
    if back is not None:
        rows.append([back])
    actions = []
    if with_grade:
        actions.append(grade_button(item.id, lang))
    if with_share and item.tier != "L0" and not item.counterfeit:  # inline mode never lists hidden goods
        actions.append(share_button(item.sku, lang))
    if actions:
        rows.append(actions)
    if with_sample:  # 申请样品: off for the product's own merchant and outside private chats
        rows.append([sample_button(item.id, lang)])
    if webapp_url:
        rows.append([webapp_product_button(webapp_url, item.id, lang)])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


class Prefixed(BaseFilter):
    """Any callback under `prefix` (registered after the factory's own filter: a forged or stale payload)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.head = prefix + ":"

    async def __call__(self, query: CallbackQuery) -> bool:
        return (query.data or "").startswith(self.head)


class PickCb(CallbackData, prefix="pk"):
    """A pick button: `d` 详情 and `n` 不感兴趣 name a product id; `m` 换一批 names the page to show."""

    action: str
    id: int = 0
    page: int = 0


@lru_cache(maxsize=16_384)
def button(text: str, callback_data: str) -> InlineKeyboardButton:
    """A callback button, built once for each text and payload: buttons are never changed once built,
    so messages that show the same button (the same results page, the same pick) share one object."""
    return InlineKeyboardButton(text=text, callback_data=callback_data)


@lru_cache(maxsize=16_384)
def _pick_button(action: str, n: int, item_id: int, lang: str) -> InlineKeyboardButton:
    """详情 (`d`) or 不感兴趣 (`n`) for the n-th pick. Buttons are never changed once built, so one
    object serves every message that shows the same pick at the same place: a digest pass sends the
    popular picks to thousands of streamers, and building buttons was a tenth of its CPU."""
    text = t("picks.btn_detail", lang, n=n) if action == "d" else t("picks.btn_skip", lang, n=n)
    return button(text, PickCb(action=action, id=item_id).pack())


@lru_cache(maxsize=1_024)
def _more_button(page: int, lang: str) -> InlineKeyboardButton:
    return button(t("picks.btn_more", lang), PickCb(action="m", page=page).pack())


class PicksPage(Protocol):
    """What the pick buttons need of a set of picks."""

    @property
    def picks(self) -> Sequence[Pick]: ...

    @property
    def page(self) -> int: ...


def picks_keyboard(result: PicksPage, lang: str) -> InlineKeyboardMarkup | None:
    """详情 and 不感兴趣 for every pick, then 换一批 (used by /picks and by the digest)."""
    if not result.picks:
        return None
    rows = [
        [_pick_button("d", n, pick.item.id, lang), _pick_button("n", n, pick.item.id, lang)]
        for n, pick in enumerate(result.picks, 1)
    ]
    rows.append([_more_button(result.page + 1, lang)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
