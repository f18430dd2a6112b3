"""Notice catalog changes made by another process (a CLI import, another replica's /regrade).

With Redis, the replica that changed the catalog publishes on `Services.catalog_channel` and every
other replica hears it at once (`follow_catalog_notices`); without Redis, and as a slow fallback
for a missed notice, the scheduler looks every so often (`check_catalog`). Either way the look
compares the catalog's fingerprint with the one the live search index was built from. When they
differ, the index is rebuilt and the merchants and watchers are told, exactly as after an import in
chat; alerts already sent are not sent again (TierChange.alerted_at, WatchState), and the shared
fan-out lock makes replicas that look at the same moment take turns, so only the first tells.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiogram import Bot
from redis.exceptions import RedisError

from bot.services import Services
from jobs.after_import import refresh_and_tell
from storage.catalog import catalog_version
from storage.tables import utcnow
from storage.tier_changes import pending_tier_changes

logger = logging.getLogger(__name__)

ALERT_WINDOW = timedelta(days=2)  # older untold moves are history, not news
RESUBSCRIBE_SECONDS = 5.0  # after Redis went away


async def check_catalog(bot: Bot | None, services: Services, *, cause: str = "poll") -> bool:
    """One look; True when the catalog had changed and everything downstream was brought up to date."""
    # Under the lock: a post-import job in this process (or, with Redis, any replica) that is still
    # at work is waited for, and its refresh and alerts are seen, so nothing is told a second time.
    async with services.catalog_fanout():
        async with services.sessionmaker() as session:
            version = await catalog_version(session=session)
            if version == services.catalog.data_version:
                return False
            pending = await pending_tier_changes(since=utcnow() - ALERT_WINDOW, session=session)
        logger.info(
            "the catalog changed outside this process: refreshing (%s untold tier moves)", len(pending)
        )
        await refresh_and_tell(bot, services, pending, cause=cause)
    return True


async def follow_catalog_notices(bot: Bot | None, services: Services) -> None:
    """Run until cancelled: on every other replica's catalog notice, look at once. Needs Redis."""
    if services.redis is None:
        return
    while True:
        pubsub = services.redis.pubsub()
        try:
            await pubsub.subscribe(services.catalog_channel)
            # Whatever changed while we were not listening (start-up, a Redis outage) is seen now.
            await _look(bot, services)
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                if message is None or message.get("type") != "message":
                    continue
                sender = message.get("data")
                if isinstance(sender, bytes) and sender.decode() == services.instance_id:
                    continue  # our own notice: this process refreshed already
                await _look(bot, services)
        except (RedisError, OSError) as exc:
            logger.warning("catalog notices interrupted (%s): resubscribing", exc)
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
        finally:
            try:
                await pubsub.aclose()
            except (RedisError, OSError):
                pass


async def _look(bot: Bot | None, services: Services) -> None:
    try:
        await check_catalog(bot, services, cause="notified")
    except Exception:  # noqa: BLE001 - one failed look must not end the subscription; the poll retries
        logger.exception("catalog refresh after a notice failed")
