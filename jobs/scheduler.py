"""APScheduler wiring: a digest pass every minute (and one at start-up, to catch up missed slots),
a look every 30 s for catalog changes made by another process (jobs/catalog_watch.py; with Redis,
other replicas' changes are heard at once and the look slows to a fallback every 5 minutes), and
a sample pass every 10 minutes (reminders, then expiry: jobs/samples.py).

Schedules come from the database (each streamer's time zone and digest time), not from job
stores: the job only says "look now". A pass that is still running when the next tick comes is
left alone (the tick returns at once), so passes never pile up in one process; passes in other
replicas are kept apart by the delivery rows' claims.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from aiogram import Bot
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.metrics import DIGEST_LAST_PASS, DIGEST_PASSES, DIGEST_ROWS
from bot.services import Services
from jobs.catalog_watch import check_catalog, follow_catalog_notices
from jobs.digest import run_digest_pass
from jobs.samples import run_sample_pass

logger = logging.getLogger(__name__)

PASS_INTERVAL_SECONDS = 60
CATALOG_CHECK_SECONDS = 30
SAMPLE_PASS_SECONDS = 600  # reminders and expiry count in hours: every 10 minutes is plenty
# With Redis, replicas are told of catalog changes at once (catalog notices); the look is then only
# a fallback for a notice missed.
CATALOG_FALLBACK_SECONDS = 300


class DigestTicker:
    """Starts a digest pass on each tick unless one is still running."""

    def __init__(self, bot: Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.task: asyncio.Task[None] | None = None
        self.passes = 0

    async def tick(self) -> None:
        if self.task is not None and not self.task.done():
            logger.debug("digest pass still running; this tick is skipped")
            return
        self.task = asyncio.create_task(self._run(), name="digest-pass")

    async def _run(self) -> None:
        self.passes += 1
        try:
            report = await run_digest_pass(
                self.services.sessionmaker,
                self.services.settings,
                self.services.sender_for(self.bot),
                bot=self.bot,
            )
            DIGEST_PASSES.inc()
            DIGEST_LAST_PASS.set_to_current_time()
            for outcome, n in report.outcomes.items():
                DIGEST_ROWS.labels(outcome).inc(n)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed pass must not stop tomorrow's
            logger.exception("digest pass failed")

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()


class DigestScheduler:
    """The running scheduler and its ticker; `shutdown(wait=False)` stops both."""

    def __init__(
        self, scheduler: AsyncIOScheduler, ticker: DigestTicker, notices: asyncio.Task[None] | None = None
    ) -> None:
        self.scheduler = scheduler
        self.ticker = ticker
        self.notices = notices  # following other replicas' catalog notices (Redis)

    def shutdown(self, wait: bool = False) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        # A pass cut here gives back the rows it had not yet sent; a row whose request was on the
        # wire stays `sending` and is failed (not re-sent) by a later pass: see jobs/digest.py.
        self.ticker.cancel()
        if self.notices is not None:
            self.notices.cancel()


async def _check_catalog(bot: Bot, services: Services) -> None:
    try:
        await check_catalog(bot, services)
    except Exception:  # noqa: BLE001 - a failed look is retried on the next tick
        logger.exception("catalog check failed")


async def _sample_pass(bot: Bot, services: Services) -> None:
    try:
        await run_sample_pass(services.sessionmaker, services.settings, services.sender_for(bot))
    except Exception:  # noqa: BLE001 - a failed pass is retried on the next tick
        logger.exception("sample pass failed")


def start_scheduler(
    bot: Bot, services: Services, *, interval_seconds: float = PASS_INTERVAL_SECONDS
) -> DigestScheduler:
    """Start the scheduler on the running event loop: a pass now, then every `interval_seconds`."""
    ticker = DigestTicker(bot, services)
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        ticker.tick,
        IntervalTrigger(seconds=interval_seconds, timezone=UTC),
        id="digest-pass",
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(interval_seconds)),
        replace_existing=True,
    )
    scheduler.add_job(
        _check_catalog,
        IntervalTrigger(
            seconds=CATALOG_FALLBACK_SECONDS if services.redis is not None else CATALOG_CHECK_SECONDS,
            timezone=UTC,
        ),
        args=(bot, services),
        id="catalog-check",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.add_job(
        _sample_pass,
        IntervalTrigger(seconds=SAMPLE_PASS_SECONDS, timezone=UTC),
        args=(bot, services),
        id="sample-pass",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    scheduler.start()
    notices = None
    if services.redis is not None:
        notices = asyncio.create_task(follow_catalog_notices(bot, services), name="catalog-notices")
    logger.info("digest passes every %ss", interval_seconds)
    return DigestScheduler(scheduler, ticker, notices)
