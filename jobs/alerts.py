"""Tier-change alerts: after an import or a regrade, each bound merchant user gets one message
listing their products whose tier moved, up or down, with the dimension that moved most.

The database is read in one short session and closed before anything is sent; each delivery then
stamps `TierChange.alerted_at` in its own short transaction, so no transaction spans a network
call and a change already told is not told again (a re-run after a crash resumes).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import t
from bot.keyboards import MyGoodsCb
from bot.outbound import Priority, priority
from bot.render import h, shorten
from bot.services import Services
from core.catalog import tier_rank
from core.grading import DIMENSIONS
from jobs.sender import Delivery, Outcome, Outgoing
from storage.catalog import products_by_sku
from storage.tier_changes import already_alerted, mark_alerted
from storage.users import AlertRecipient, alert_recipients, deactivate

logger = logging.getLogger(__name__)

MAX_LINES = 30  # one message: past this, the rest is a count and a pointer to /mygoods
TITLE_CHARS = 30


@dataclass(frozen=True, slots=True)
class Moved:
    """One product's tier move, resolved to its ids."""

    product_id: int
    merchant_id: int
    sku: str
    title: str
    old_tier: str
    new_tier: str
    moved_dimension: str | None
    moved_by: float | None

    @property
    def up(self) -> bool:
        return tier_rank(self.new_tier) > tier_rank(self.old_tier)


@dataclass
class AlertReport:
    products: int = 0  # products whose move was (to be) told
    recipients: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # sent / blocked / invalid / failed


# --------------------------------------------------------------------------- the message (pure)


def reason_text(move: Moved, lang: str) -> str:
    """Why the tier moved: the dimension that moved most (signed), or the gate that flipped."""
    dim = move.moved_dimension
    if dim in DIMENSIONS:
        label = t(f"dim.{dim}", lang)
        return label if move.moved_by is None else f"{label} {move.moved_by:+.1f}"
    if dim in ("counterfeit", "factory_verified"):
        return t(f"tieralert.reason_{dim}_{'up' if move.up else 'down'}", lang)
    return t("tieralert.reason_policy", lang)


def alert_text(merchant_name: str, moves: Sequence[Moved], lang: str, *, limit: int = MAX_LINES) -> str:
    """The one message a merchant user gets: downgrades first (they need acting on), then upgrades."""
    downs = sorted((m for m in moves if not m.up), key=lambda m: (tier_rank(m.new_tier), m.sku))
    ups = sorted((m for m in moves if m.up), key=lambda m: (-tier_rank(m.new_tier), m.sku))
    lines = [
        t("tieralert.title", lang, merchant=h(merchant_name), n=len(moves), up=len(ups), down=len(downs))
    ]
    shown = 0
    for group, key in ((downs, "tieralert.down"), (ups, "tieralert.up")):
        if not group or shown >= limit:
            continue
        lines += ["", f"<b>{t(key, lang, n=len(group))}</b>"]
        for move in group[: limit - shown]:
            title = shorten(move.title, TITLE_CHARS)
            lines.append(
                t(
                    "tieralert.line",
                    lang,
                    arrow="⬆️" if move.up else "⬇️",
                    old=move.old_tier,
                    new=move.new_tier,
                    title=h(title),
                    sku=h(move.sku),
                    reason=h(reason_text(move, lang)),
                )
            )
            shown += 1
    if len(moves) > shown:
        lines += ["", t("tieralert.more", lang, n=len(moves) - shown)]
    lines += ["", t("tieralert.footer", lang)]
    return "\n".join(lines)


def alert_keyboard(merchant_id: int, lang: str) -> InlineKeyboardMarkup:
    data = MyGoodsCb(merchant_id=merchant_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t("tieralert.button", lang), callback_data=data)]]
    )


# --------------------------------------------------------------------------- the job


def _latest_moves(changes: Sequence) -> list:
    """Real moves only (a first grade is not a change), the last one per sku."""
    latest = {}
    for change in changes:
        if change.old_tier and change.new_tier and change.old_tier != change.new_tier:
            latest[change.sku] = change
    return list(latest.values())


async def notify_tier_changes(bot: Bot, services: Services, changes: Sequence) -> AlertReport:
    """Tell each bound merchant user, in one message, which of their products changed tier and why."""
    report = AlertReport()
    candidates = _latest_moves(changes)
    if not candidates:
        return report
    async with services.sessionmaker() as session:
        unresolved = [c.sku for c in candidates if c.product_id is None or c.merchant_id is None]
        refs = await products_by_sku(unresolved, session=session) if unresolved else {}
        moves: list[Moved] = []
        for c in candidates:
            ref = refs.get(c.sku)
            product_id = c.product_id if c.product_id is not None else (ref.id if ref else None)
            merchant_id = c.merchant_id if c.merchant_id is not None else (ref.merchant_id if ref else None)
            if product_id is None or merchant_id is None:
                continue  # deleted since: nothing to tell
            moves.append(
                Moved(
                    product_id,
                    merchant_id,
                    c.sku,
                    c.title,
                    c.old_tier,
                    c.new_tier,
                    c.moved_dimension,
                    c.moved_by,
                )
            )
        told = await already_alerted([m.product_id for m in moves], session=session)
        moves = [m for m in moves if m.product_id not in told]
        recipients: list[AlertRecipient] = await alert_recipients(
            {m.merchant_id for m in moves}, session=session
        )
    # The session is closed: nothing below holds a transaction while Telegram is called.
    by_merchant: dict[int, list[Moved]] = defaultdict(list)
    for move in moves:
        by_merchant[move.merchant_id].append(move)
    outs = [
        Outgoing(
            chat_id=r.telegram_id,
            text=alert_text(r.merchant_name, by_merchant[r.merchant_id], r.language),
            reply_markup=alert_keyboard(r.merchant_id, r.language),
            key=r.merchant_id,
        )
        for r in recipients
    ]
    report.products = sum(len(by_merchant[m]) for m in {r.merchant_id for r in recipients})
    report.recipients = len(outs)
    if not outs:
        return report

    async def on_delivery(delivery: Delivery) -> None:
        report.outcomes[delivery.outcome.value] = report.outcomes.get(delivery.outcome.value, 0) + 1
        try:
            async with services.sessionmaker() as session:
                if delivery.outcome == Outcome.SENT:
                    ids = [m.product_id for m in by_merchant[int(delivery.outgoing.key or 0)]]
                    await mark_alerted(ids, session=session)
                elif delivery.outcome in (Outcome.BLOCKED, Outcome.INVALID):
                    await deactivate(delivery.outgoing.chat_id, session=session)
                await session.commit()
        except SQLAlchemyError:
            logger.exception("could not record the alert to %s", delivery.outgoing.chat_id)

    with priority(Priority.ALERT):  # after people's replies, before the digest
        await services.sender_for(bot).send_many(outs, on_delivery=on_delivery)
    logger.info(
        "tier alerts: %s products, %s recipients, %s", report.products, report.recipients, report.outcomes
    )
    return report
