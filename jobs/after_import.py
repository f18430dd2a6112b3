"""What follows a catalog change (an import or a regrade): fresh search index, merchant alerts, watches."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot

from bot.services import Services

logger = logging.getLogger(__name__)


async def after_catalog_change(bot: Bot | None, services: Services, tier_changes: Sequence) -> None:
    """Swap in a fresh search index, then tell merchants and watchers (when a bot is there to tell them)."""
    await services.catalog.refresh(services.sessionmaker)
    if bot is None:
        return
    from jobs.alerts import notify_tier_changes
    from jobs.watch import check_watches

    await notify_tier_changes(bot, services, tier_changes)
    await check_watches(bot, services)
