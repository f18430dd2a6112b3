"""/watch alerts: after every import or regrade, a streamer hears when a product they watch (by sku
or by brand) reaches L5 or its commission rises.

`WatchState` keeps, per watch and product, the tier and commission the watcher last knew of. A
first sight is a silent baseline (a product new to a watched brand alerts only if it arrives at L5);
afterwards only a real rise alerts, and every check moves the baseline to the current values, so
the same rise is never told twice. The new states are committed *before* anything is sent: an alert
lost to a crash is preferred over one told twice. No transaction is open while Telegram is called.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from aiogram import Bot
from sqlalchemy.exc import SQLAlchemyError

from bot.i18n import t
from bot.outbound import Priority, priority
from bot.render import h, percent, shorten, tier_label
from bot.services import Services
from jobs.sender import Delivery, Outcome, Outgoing
from storage import users, watches

logger = logging.getLogger(__name__)

MAX_LINES = 20
TITLE_CHARS = 40
_RISE_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class WatchAlert:
    """One thing to tell: `l5` (reached L5) or `commission` (rose from `old`)."""

    kind: str
    product: watches.WatchedProduct
    old: float | None = None


@dataclass
class WatchReport:
    checked: int = 0
    alerts: int = 0
    recipients: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


def alerts_for(products: list[watches.WatchedProduct]) -> list[WatchAlert]:
    """What changed since each watcher last knew (pure). One alert per watcher, product and kind."""
    found: dict[tuple[int, str, str], WatchAlert] = {}
    for p in products:
        if p.counterfeit:
            continue  # hidden from streamers
        if p.tier == "L5" and p.last_tier != "L5":
            found.setdefault((p.telegram_id, p.sku, "l5"), WatchAlert("l5", p))
        if p.last_commission is not None and p.commission_rate > p.last_commission + _RISE_EPSILON:
            found.setdefault(
                (p.telegram_id, p.sku, "commission"), WatchAlert("commission", p, p.last_commission)
            )
    return list(found.values())


def _title(p: watches.WatchedProduct) -> str:
    return shorten(p.title, TITLE_CHARS)


def alert_text(alerts: list[WatchAlert], lang: str) -> str:
    lines = [t("watch.alert_title", lang)]
    for alert in alerts[:MAX_LINES]:
        p = alert.product
        common = dict(
            title=h(_title(p)),
            sku=h(p.sku),
            brand=h(p.brand),
            tier=tier_label(p.tier, lang),
            commission=percent(p.commission_rate),
        )
        if alert.kind == "l5":
            lines += ["", t("watch.alert_l5", lang, **common)]
        else:
            lines += [
                "",
                t(
                    "watch.alert_commission",
                    lang,
                    old=percent(alert.old or 0.0),
                    new=percent(p.commission_rate),
                    **common,
                ),
            ]
    if len(alerts) > MAX_LINES:
        lines += ["", t("watch.alert_more", lang, n=len(alerts) - MAX_LINES)]
    lines += ["", t("watch.alert_footer", lang)]
    return "\n".join(lines)


async def check_watches(bot: Bot, services: Services) -> WatchReport:
    """Compare every watched product with what its watcher knew; tell them about real rises."""
    report = WatchReport()
    async with services.sessionmaker() as session:
        products = await watches.watched_products(session=session)
        alerts = alerts_for(products)
        await watches.save_watch_states(products, session=session)
        await session.commit()
    report.checked = len(products)
    by_user: dict[int, list[WatchAlert]] = defaultdict(list)
    for alert in alerts:
        if alert.product.active:
            by_user[alert.product.telegram_id].append(alert)
    report.alerts = sum(len(a) for a in by_user.values())
    report.recipients = len(by_user)
    if not by_user:
        return report
    outs = [
        Outgoing(chat_id=telegram_id, text=alert_text(items, items[0].product.language), key=telegram_id)
        for telegram_id, items in sorted(by_user.items())
    ]

    async def on_delivery(delivery: Delivery) -> None:
        report.outcomes[delivery.outcome.value] = report.outcomes.get(delivery.outcome.value, 0) + 1
        if delivery.outcome in (Outcome.BLOCKED, Outcome.INVALID):
            try:
                async with services.sessionmaker() as session:
                    await users.deactivate(delivery.outgoing.chat_id, session=session)
                    await session.commit()
            except SQLAlchemyError:
                logger.exception("could not mark %s inactive", delivery.outgoing.chat_id)

    with priority(Priority.ALERT):  # after people's replies, before the digest
        await services.sender_for(bot).send_many(outs, on_delivery=on_delivery)
    logger.info(
        "watch alerts: %s alerts to %s streamers, %s", report.alerts, report.recipients, report.outcomes
    )
    return report
