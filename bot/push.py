"""Targeted recommendations (官方小二定向推荐) wired to storage: plan a push, name its recipients, word it.

An admin (chat `/push` or `python -m bot push`) names up to 5 goods and a segment. `plan_push`
checks the goods (each must exist and be L4+), counts the streamers the segment reaches now, and
finds or makes the push row (its identity is its goods and segment). The sending is `jobs.push`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.keyboards import picks_keyboard
from bot.picks import PicksContext
from bot.render import TELEGRAM_LIMIT, commission_text, h, money, shorten, tier_label
from core.catalog import CatalogItem
from core.picks import Pick
from core.push import MAX_GOODS, Audience, Segment, refusal
from storage import push as pushes
from storage.catalog import get_product

TITLE_CHARS = 60
MAX_ID = 2**31 - 1
CONFIRM, CANCEL = "go", "no"
_GAP = {"gap", "缺口"}
_MIX = {"mix", "cat", "category", "sells", "品类", "在卖"}


class PushRefused(Exception):  # noqa: N818 - a refusal with a reason, not a crash
    """The push cannot go out as asked; `key` names the reason (push.toml), `args` fill it in."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def text(self, lang: str) -> str:
        return t(f"push.refused_{self.key}", lang, **self.params)


def parse_segment(text: str) -> Segment:
    """`gap=美妆个护` / `mix=美妆个护` (also `cat=`) / nothing (everyone with digests on)."""
    text = text.strip().replace("＝", "=")
    if not text:
        return Segment()
    name, sep, category = text.partition("=")
    category = category.strip()
    if not sep or not category:
        raise PushRefused("segment", arg=h(text))
    if name.strip().lower() in _GAP:
        return Segment(Audience.GAP, category)
    if name.strip().lower() in _MIX:
        return Segment(Audience.MIX, category)
    raise PushRefused("segment", arg=h(text))


class PushCb(CallbackData, prefix="pu"):
    """The preview's buttons: `pu:go:<push id>` confirms, `pu:no:<push id>` cancels."""

    action: Annotated[str, Field(pattern="^(go|no)$")]
    id: Annotated[int, Field(gt=0, le=MAX_ID)]


@dataclass(frozen=True)
class PushPlan:
    """A push as checked: its goods (in the admin's order), row, and how many streamers it reaches
    (the segment now; once confirmed, the recipients fixed then, with `counts` by status)."""

    push: pushes.PushView
    goods: list[CatalogItem]
    recipients: int
    counts: dict[str, int]

    @property
    def segment(self) -> Segment:
        return self.push.segment


async def check_goods(skus: Sequence[str], *, session: AsyncSession) -> list[CatalogItem]:
    """The goods for these skus; PushRefused names the first one that cannot be pushed and why."""
    if not skus:
        raise PushRefused("no_goods")
    if len(skus) > MAX_GOODS:
        raise PushRefused("too_many", n=MAX_GOODS, got=len(skus))
    goods = []
    for sku in skus:
        record = await get_product(sku, session=session)
        if record is None:
            raise PushRefused("unknown_sku", sku=h(sku))
        if refusal(record.item.tier) is not None:
            raise PushRefused("tier", sku=h(sku), tier=record.item.tier)
        goods.append(record.item)
    return goods


async def segment_recipients(session: AsyncSession, context: PicksContext, segment: Segment) -> list[int]:
    """Streamers with digests on whom the segment reaches, by the same mixes and gaps as `/picks`."""
    profiles = await pushes.reachable_streamers(session=session)
    if segment.audience == Audience.ALL:
        return [p.telegram_id for p in profiles]
    owns = [context.own_mix(p.telegram_id, p.chosen) for p in profiles]
    references = context.references(
        [(p.telegram_id, own, sales) for p, (own, sales) in zip(profiles, owns, strict=True)]
    )
    return [
        p.telegram_id
        for p, (own, _sales), reference in zip(profiles, owns, references, strict=True)
        if segment.includes(own, reference.mix)
    ]


async def plan_push(
    session: AsyncSession,
    context: PicksContext,
    skus: Sequence[str],
    segment: Segment,
    *,
    created_by: int | None,
) -> PushPlan:
    """Check the goods and segment, find (or make) the push row and count whom it reaches now."""
    goods = await check_goods(skus, session=session)
    if segment.category is not None and not await pushes.category_exists(segment.category, session=session):
        raise PushRefused("category", category=h(segment.category))
    push = await pushes.get_or_create_push(skus, segment, created_by=created_by, session=session)
    counts = await pushes.push_counts(push.id, session=session) if push.confirmed else {}
    recipients = await segment_recipients(session, context, segment) if not push.confirmed else []
    return PushPlan(push, goods, len(recipients) if not push.confirmed else sum(counts.values()), counts)


async def goods_of(push: pushes.PushView, *, session: AsyncSession) -> list[CatalogItem]:
    """A push's goods as they are now (one may have left the catalog or dropped below L4: skipped)."""
    goods = []
    for sku in push.skus:
        record = await get_product(sku, session=session)
        if record is not None and refusal(record.item.tier) is None:
            goods.append(record.item)
    return goods


# --------------------------------------------------------------------------------------------
# Words and buttons


@dataclass(frozen=True)
class PushPage:
    """The pushed goods as picks, so they carry the digest's buttons (详情, 不感兴趣, 换一批)."""

    picks: list[Pick]
    page: int = 0


def push_page(goods: Sequence[CatalogItem]) -> PushPage:
    return PushPage([Pick(item, item.category, 0.0, 0.0, "platform") for item in goods])


def push_text(goods: Sequence[CatalogItem], lang: str) -> str:
    """The message a streamer gets (Telegram HTML): every good with its sku, tier, price and commission."""
    lines = [t("push.title", lang), t("push.intro", lang)]
    for number, item in enumerate(goods, 1):
        lines += [
            "",
            f"<b>{number}. {h(shorten(item.title, TITLE_CHARS))}</b>",
            t(
                "picks.line",
                lang,
                tier=tier_label(item.tier, lang),
                price=money(item.price),
                commission=commission_text(item.commission_rate, None, lang),
            ),
            t("picks.sku", lang, sku=h(item.sku)),
        ]
    lines += ["", t("picks.footer", lang)]
    return "\n".join(lines)[:TELEGRAM_LIMIT]


def push_keyboard(goods: Sequence[CatalogItem], lang: str) -> InlineKeyboardMarkup | None:
    return picks_keyboard(push_page(goods), lang)


def segment_text(segment: Segment, lang: str) -> str:
    return t(f"push.segment_{segment.audience.value}", lang, category=h(segment.category or ""))


def preview_text(plan: PushPlan, lang: str) -> str:
    """What the admin sees before confirming: the segment, the count, and the message itself."""
    lines = [t("push.preview_head", lang, segment=segment_text(plan.push.segment, lang), n=plan.recipients)]
    if plan.push.confirmed:
        lines += ["", t("push.preview_again", lang, sent=plan.counts.get("sent", 0), total=plan.recipients)]
    lines += ["", t("push.preview_body", lang), "", push_text(plan.goods, lang)]
    return "\n".join(lines)[:TELEGRAM_LIMIT]


def preview_keyboard(push_id: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t("push.confirm", lang), callback_data=PushCb(action=CONFIRM, id=push_id).pack()
                ),
                InlineKeyboardButton(
                    text=t("push.cancel", lang), callback_data=PushCb(action=CANCEL, id=push_id).pack()
                ),
            ]
        ]
    )


def done_text(push_id: int, recipients: int, sent: int, outcomes: dict[str, int], lang: str) -> str:
    """The admin's report once the push went out."""
    extra = ""
    if any(outcomes.get(k, 0) for k in ("blocked", "skipped", "failed", "unknown", "invalid")):
        extra = t(
            "push.done_extra",
            lang,
            blocked=outcomes.get("blocked", 0),
            skipped=outcomes.get("skipped", 0),
            failed=outcomes.get("failed", 0) + outcomes.get("invalid", 0),
            unknown=outcomes.get("unknown", 0),
        )
    return t("push.done", lang, id=push_id, recipients=recipients, sent=sent, extra=extra)
