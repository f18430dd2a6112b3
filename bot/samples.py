"""Samples (寄样) as the user sees them: the card's button, the request's buttons and its texts.

Handlers and the reminder job both send these, so they live in `bot/`. A button names only an
action and an id; whoever presses it, storage.samples.move checks the presser is a party.
"""

from __future__ import annotations

from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import Field

from bot.i18n import t
from bot.render import h, money, shorten
from core.samples import CANCELLABLE, Party, Status
from storage.samples import SampleView

TITLE_CHARS = 40
MAX_ID = 2**31 - 1

# SampleCb.action: r = request (id is a product id), the rest name a request id.
REQUEST, APPROVE, REJECT, SHIP, RECEIVE, CANCEL = "r", "a", "x", "s", "v", "c"


class SampleCb(CallbackData, prefix="sm"):
    """A sample button: `sm:<action>:<id>`."""

    action: Annotated[str, Field(pattern="^[raxsvc]$")]
    id: Annotated[int, Field(gt=0, le=MAX_ID)]


def sample_button(product_id: int, lang: str) -> InlineKeyboardButton:
    """The card's 申请样品 button: pressing it sends the request at once."""
    return InlineKeyboardButton(
        text=t("sample.button", lang), callback_data=SampleCb(action=REQUEST, id=product_id).pack()
    )


def _button(key: str, action: str, request_id: int, lang: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=t(key, lang), callback_data=SampleCb(action=action, id=request_id).pack()
    )


def actions_keyboard(view: SampleView, party: Party, lang: str) -> InlineKeyboardMarkup | None:
    """The buttons `party` may press on the request in its current state (None: nothing to do)."""
    row: list[InlineKeyboardButton] = []
    if party == Party.MERCHANT and view.status == Status.REQUESTED:
        row = [
            _button("sample.btn_approve", APPROVE, view.id, lang),
            _button("sample.btn_reject", REJECT, view.id, lang),
        ]
    elif party == Party.MERCHANT and view.status == Status.APPROVED:
        row = [_button("sample.btn_ship", SHIP, view.id, lang)]
    elif party == Party.STREAMER and view.status == Status.SHIPPED:
        row = [_button("sample.btn_receive", RECEIVE, view.id, lang)]
    elif party == Party.STREAMER and view.status in CANCELLABLE:
        row = [_button("sample.btn_cancel", CANCEL, view.id, lang)]
    return InlineKeyboardMarkup(inline_keyboard=[row]) if row else None


def status_text(status: str, lang: str) -> str:
    return t(f"sample.status_{status}", lang)


def _fields(view: SampleView) -> dict[str, object]:
    return {
        "id": view.id,
        "sku": h(view.sku),
        "title": h(shorten(view.title, TITLE_CHARS)),
        "merchant": h(view.merchant),
        "streamer": h(view.streamer or str(view.streamer_id)),
        "category": h(view.category),
        "tracking": h(view.tracking or ""),
        "reason": h(view.reason or ""),
    }


def sample_text(key: str, view: SampleView, lang: str, **extra: object) -> str:
    """One of the sample messages (`sample.*`) filled in from the request."""
    return t(key, lang, **(_fields(view) | extra))


def sample_line(view: SampleView, lang: str) -> str:
    """One request in a /samples list: id, product, state, and the tracking number or reason."""
    line = sample_text("sample.line", view, lang, status=status_text(view.status, lang))
    if view.tracking:
        line += "\n    " + sample_text("sample.tracking", view, lang)
    if view.status == Status.REJECTED and view.reason:
        line += "\n    " + sample_text("sample.reason", view, lang)
    return line


def amount_text(value: float) -> str:
    return money(value)
