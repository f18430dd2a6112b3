"""The push pass: an admin's targeted recommendation (官方小二定向推荐) goes out like the digest.

A push's recipients are fixed once, when it is first confirmed (`storage.push.confirm_push`: one
row per streamer in the segment then). `PushPass` is the digest pass (`jobs.digest.DigestPass`) on
the push's rows: the same claims, wire guard and final states (`storage.deliveries`, kind `PUSH`),
the shared outbound budget at broadcast priority, the digest's buttons. So each streamer gets a push
at most once, whatever crashes or reruns; a rerun only finishes the rows still pending (a 429 left
them), and reaches nobody new. A streamer who turned digests off since is skipped; a 403 closes the
row `blocked` and stops messages to them until /start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.picks import picks_context
from bot.push import done_text, goods_of, push_keyboard, push_text, segment_recipients
from bot.services import Services, build_bot, make_sender, outbound_limiter
from bot.settings import Settings
from core.catalog import CatalogItem
from core.schedule import local_today, zone_of
from jobs.digest import DigestPass, DigestSender, PassItem, PassReport, PassSkip
from jobs.sender import Outgoing
from storage import deliveries
from storage import push as pushes
from storage.tables import utcnow
from storage.users import STREAMER

if TYPE_CHECKING:
    from aiogram import Bot

logger = logging.getLogger(__name__)


class PushPass(DigestPass):
    """The digest pass over one push's rows: no schedule, no expiry, the same message for everyone."""

    kind = deliveries.PUSH

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        sender: DigestSender,
        push_id: int,
        goods: list[CatalogItem],
        **options: Any,
    ) -> None:
        super().__init__(sessionmaker, settings, sender, **options)
        self.push_id = push_id
        self.goods = goods
        self._texts: dict[str, tuple[str, Any]] = {}

    async def housekeeping(self, session: AsyncSession) -> None:
        """Rows a dead pass left `sending`: outcome unknown, never re-sent. Pending rows never expire."""
        stale = await deliveries.fail_stale_sending(
            self._base - self.stale_after, now=self._base, kind=self.kind, session=session
        )
        self.report.stale = len(stale)

    async def create_rows(self, session: AsyncSession) -> None:
        """Nothing: a push's rows are made when it is confirmed (`confirm`)."""

    def _triage(
        self, rows: list[deliveries.ClaimedRow]
    ) -> tuple[list[deliveries.ClaimedRow], list[PassSkip]]:
        wanted: list[deliveries.ClaimedRow] = []
        skipped: list[PassSkip] = []
        for row in rows:
            p = row.profile
            if row.role != STREAMER or not p.digest_enabled or not p.active:
                skipped.append(PassSkip(row, deliveries.SKIPPED, "digests off or chat unreachable"))
            else:
                wanted.append(row)
        return wanted, skipped

    def _message(self, lang: str) -> tuple[str, Any]:
        if lang not in self._texts:
            self._texts[lang] = (push_text(self.goods, lang), push_keyboard(self.goods, lang))
        return self._texts[lang]

    async def prepare(self, rows: list[deliveries.ClaimedRow]) -> None:
        wanted, skipped = self._triage(rows)
        if not self.goods:  # every good left the catalog since: nothing worth sending
            skipped += [PassSkip(row, deliveries.SKIPPED, "no goods left to push") for row in wanted]
            wanted = []
        skus = [item.sku for item in self.goods]
        for row in wanted:
            text, markup = self._message(row.profile.language)
            self._queue.append(PassItem(row, Outgoing(row.telegram_id, text, markup, key=row.id), skus))
        async with self.sessionmaker() as session:
            for skip in skipped:
                await self._close_skipped(skip, session)
            await session.commit()

    async def _claim(self) -> list[deliveries.ClaimedRow]:
        async with self.sessionmaker() as session:
            rows = await deliveries.claim_push_rows(
                self.token,
                self.push_id,
                now=self.clock(),
                lease=self.lease,
                limit=self.batch,
                session=session,
            )
            await session.commit()
            if not rows and not await deliveries.has_free_push_rows(
                self.push_id, now=self.clock(), lease=self.lease, session=session
            ):
                self._exhausted = True
        return rows


@dataclass(frozen=True)
class PushResult:
    push_id: int
    recipients: int  # the push's rows: fixed when it was first confirmed
    sent: int  # streamers reached by this run
    report: PassReport


async def confirm(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    push_id: int,
    *,
    now: datetime | None = None,
) -> bool:
    """Fix the push's recipients (the segment as it is now), unless it was confirmed before."""
    now = now or utcnow()
    context = await picks_context(sessionmaker)
    async with sessionmaker() as session:
        push = await pushes.get_push(push_id, session=session)
        if push is None or push.confirmed:
            return False
        recipients = await segment_recipients(session, context, push.segment)
        day = local_today(now, zone_of(None, settings.default_timezone))
        won = await pushes.confirm_push(push_id, recipients, local_date=day, now=now, session=session)
        await session.commit()
    return won


async def run_push(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: DigestSender,
    push_id: int,
    **options: Any,
) -> PushResult:
    """Confirm the push (once) and send it to every recipient not yet reached; safe to run again.

    The options are `DigestPass`'s (`bot`: the Bot under `sender`, for the wire guard)."""
    await confirm(sessionmaker, settings, push_id)
    async with sessionmaker() as session:
        push = await pushes.get_push(push_id, session=session)
        if push is None:
            raise LookupError(f"no push {push_id}")
        goods = await goods_of(push, session=session)
    report = await PushPass(sessionmaker, settings, sender, push_id, goods, **options).run()
    async with sessionmaker() as session:
        counts = await pushes.push_counts(push_id, session=session)
    logger.info("push %s: %s recipients, %s sent now", push_id, sum(counts.values()), report.outcomes["sent"])
    return PushResult(push_id, sum(counts.values()), report.outcomes[deliveries.SENT], report)


async def push_and_report(bot: Bot, services: Services, push_id: int, admin_chat: int, lang: str) -> None:
    """A confirmed chat `/push`: send it on the shared sender, then tell the admin how it went."""
    sender = services.sender_for(bot)
    result = await run_push(services.sessionmaker, services.settings, sender, push_id, bot=bot)
    text = done_text(push_id, result.recipients, result.sent, dict(result.report.outcomes), lang)
    await sender.send(Outgoing(admin_chat, text))


async def send_push_now(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, push_id: int
) -> PushResult:
    """`python -m bot push`: send through TELEGRAM_API_URL on a bot of its own (no running bot needed)."""
    limiter = outbound_limiter(settings)
    bot = build_bot(settings.require_token(), api_url=settings.telegram_api_url, limiter=limiter)
    try:
        return await run_push(sessionmaker, settings, make_sender(bot, settings), push_id, bot=bot)
    finally:
        await bot.session.close()
        await limiter.close()
