"""What follows a catalog change (an import or a regrade): fresh search index, merchant alerts, watches.

It runs as a job: handlers call `Services.catalog_changed`, which starts `after_catalog_change` in the
background (bot/dispatcher.py plugs it in); the catalog watch runs the same fan-out for changes made
by another process. Both hold `Services.catalog_fanout()` (in this process and, with Redis, across
the replicas), so a change is told once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiogram import Bot

from bot.metrics import CATALOG_REFRESHES
from bot.services import Services
from jobs.alerts import notify_tier_changes
from jobs.watch import check_watches

logger = logging.getLogger(__name__)


async def after_catalog_change(bot: Bot | None, services: Services, tier_changes: Sequence[Any]) -> None:
    """Swap in a fresh search index, then tell merchants and watchers (when a bot is there to tell them)."""
    async with services.catalog_fanout():
        await refresh_and_tell(bot, services, tier_changes)


async def refresh_and_tell(
    bot: Bot | None, services: Services, tier_changes: Sequence[Any], *, cause: str = "local"
) -> None:
    """The fan-out itself; the caller holds `services.catalog_fanout()`."""
    await services.catalog.refresh(services.sessionmaker)
    CATALOG_REFRESHES.labels(cause).inc()
    if bot is None:
        return
    await notify_tier_changes(bot, services, tier_changes)
    await check_watches(bot, services)
