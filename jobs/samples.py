"""The sample pass: a reminder to whoever must act on a waiting request, then expiry (both told)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.samples import actions_keyboard, sample_text, status_text
from bot.settings import Settings
from core.samples import Due, Party, due, waiting_party
from jobs.sender import Outgoing, Sender
from storage import samples
from storage.tables import utcnow

logger = logging.getLogger(__name__)


@dataclass
class SamplePassReport:
    reminded: int = 0
    expired: int = 0


async def run_sample_pass(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: Sender,
    *,
    now: datetime | None = None,
) -> SamplePassReport:
    """Remind, then expire, every request that waited too long; each claim is one conditional UPDATE,
    so two replicas never remind or expire the same request twice."""
    now = now or utcnow()
    remind_after = timedelta(hours=settings.sample_remind_hours)
    expire_after = timedelta(hours=settings.sample_expire_hours)
    report = SamplePassReport()
    async with sessionmaker() as session:
        rows = await samples.waiting(session=session)
        await session.commit()
    for row in rows:
        changed = row.changed_at if row.changed_at.tzinfo else row.changed_at.replace(tzinfo=now.tzinfo)
        what = due(
            row.status, changed, row.reminded, now, remind_after=remind_after, expire_after=expire_after
        )
        if what is None:
            continue
        async with sessionmaker() as session:
            if what == Due.REMIND:
                claimed = await samples.mark_reminded(row.id, row.status, now=now, session=session)
            else:
                claimed = await samples.expire(row.id, row.status, now=now, session=session)
            view = await samples.get_request(row.id, session=session) if claimed else None
            recipients = await _recipients(session, view, what) if view is not None else []
            await session.commit()
        if view is None:
            continue
        hours = int((now - changed).total_seconds() // 3600)
        for chat_id, lang, party in recipients:
            if what == Due.REMIND:
                key = "sample.remind_streamer" if party == Party.STREAMER else "sample.remind_merchant"
                text = sample_text(key, view, lang, hours=hours, status=status_text(row.status, lang))
                markup = actions_keyboard(view, party, lang)
            else:
                text, markup = sample_text("sample.expired", view, lang), None
            await sender.send(Outgoing(chat_id, text, markup, key=f"sample:{view.id}:{what}"))
        if what == Due.REMIND:
            report.reminded += 1
        else:
            report.expired += 1
    if report.reminded or report.expired:
        logger.info("samples: %s reminded, %s expired", report.reminded, report.expired)
    return report


async def _recipients(
    session: AsyncSession, view: samples.SampleView, what: Due
) -> list[tuple[int, str, Party]]:
    """A reminder goes to the side that must act; an expiry to both sides."""
    waiting = waiting_party(view.status) if what == Due.REMIND else None
    out: list[tuple[int, str, Party]] = []
    if waiting in (None, Party.STREAMER):
        out.append(
            (view.streamer_id, await samples.user_language(view.streamer_id, session=session), Party.STREAMER)
        )
    if waiting in (None, Party.MERCHANT):
        out += [
            (tid, lang, Party.MERCHANT)
            for tid, lang in await samples.party_ids(view.merchant_id, session=session)
        ]
    return out
