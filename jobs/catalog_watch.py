"""Notice catalog changes made by another process (a CLI import, another replica's /regrade).

Every tick compares the catalog's fingerprint with the one the live search index was built
from. When they differ, the index is rebuilt and the merchants and watchers are told, exactly as
after an import in chat; alerts already sent are not sent again (TierChange.alerted_at, WatchState).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram import Bot

from bot.services import Services
from jobs.after_import import refresh_and_tell
from storage.catalog import catalog_version
from storage.tables import utcnow
from storage.tier_changes import pending_tier_changes

logger = logging.getLogger(__name__)

ALERT_WINDOW = timedelta(days=2)  # older untold moves are history, not news


async def check_catalog(bot: Bot | None, services: Services) -> bool:
    """One look; True when the catalog had changed and everything downstream was brought up to date."""
    # Under the lock: a post-import job in this process that is still at work is waited for, and
    # its refresh makes the versions match again, so its alerts are not sent a second time.
    async with services.catalog_lock:
        async with services.sessionmaker() as session:
            version = await catalog_version(session=session)
            if version == services.catalog.data_version:
                return False
            pending = await pending_tier_changes(since=utcnow() - ALERT_WINDOW, session=session)
        logger.info(
            "the catalog changed outside this process: refreshing (%s untold tier moves)", len(pending)
        )
        await refresh_and_tell(bot, services, pending)
    return True
