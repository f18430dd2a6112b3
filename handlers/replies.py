"""Reply helpers shared by the feature routers."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InaccessibleMessage, InlineKeyboardMarkup, Message

logger = logging.getLogger(__name__)


async def edit_in_place(
    message: Message | InaccessibleMessage | None, text: str, markup: InlineKeyboardMarkup | None
) -> bool:
    """Show `text` in place of a message the bot sent; False when it cannot be edited (send anew then).

    Pressing the same button twice edits to identical text, which Telegram refuses as "not modified":
    that counts as shown.
    """
    if not isinstance(message, Message) or not message.text:
        return False
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" in exc.message:
            return True
        logger.info("could not edit message %s: %s", message.message_id, exc.message)
        return False
    return True
