"""Commands whose argument can be guessed (/bind CODE): a few tries a minute per user, then one "wait"."""

from __future__ import annotations

import logging

from aiogram.types import Message

from bot.i18n import t
from bot.services import Services
from storage.users import Viewer

logger = logging.getLogger(__name__)


async def guess_allowed(message: Message, services: Services, viewer: Viewer, action: str) -> bool:
    """Count one try at `action`; False when the user is over the limit (told to wait once per window)."""
    verdict = await services.guess_throttle().hit(f"{action}:{viewer.telegram_id}")
    if verdict.allowed:
        return True
    if verdict.tell:
        logger.info("throttled %s for user %s for %s s", action, viewer.telegram_id, verdict.wait)
        await message.answer(t("throttle.wait", viewer.lang, seconds=verdict.wait))
    return False
