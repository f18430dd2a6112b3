"""Reply helpers shared by the feature routers."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from bot.render import TELEGRAM_LIMIT, fits_caption, split_message
from bot.session import SendMessageForIds
from bot.settings import Settings
from core.schedule import zone_of
from storage.users import Viewer

logger = logging.getLogger(__name__)


def viewer_zone(viewer: Viewer, settings: Settings) -> ZoneInfo:
    """The time zone a user reads dates in: their /tz (read with the user at the start of the
    update), else the operator's default."""
    return zone_of(viewer.timezone, settings.default_timezone)


async def answer_for_ids(message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """`message.answer(text)`, reading back only the id of what was sent (bot.session.SendMessageForIds):
    search results, the bot's most frequent reply, never look at Telegram's echo of themselves."""
    bot = message.bot
    assert bot is not None, "an incoming message is bound to its bot"
    method = SendMessageForIds(
        chat_id=message.chat.id,
        message_thread_id=message.message_thread_id if message.is_topic_message else None,
        business_connection_id=message.business_connection_id,
        text=text,
        reply_markup=markup,
    )
    await bot(method)  # type: ignore[arg-type]  # read back as SentIds, not as a Message


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


def _is_photo(message: Message | InaccessibleMessage | None) -> bool:
    return isinstance(message, Message) and bool(message.photo)


async def _delete(message: Message) -> None:
    try:
        await message.delete()
    except TelegramBadRequest as exc:  # too old (48 h) or gone already: it simply stays
        logger.info("could not delete message %s: %s", message.message_id, exc.message)


async def send_photo_card(
    bot: Bot,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    photo: str | None,
    *,
    thread_id: int | None = None,
) -> Message | None:
    """The card as the photo's caption; None when it cannot be (no photo, too long, or Telegram refused
    the picture: a dead link, "wrong file identifier", "failed to get HTTP URL content"...)."""
    if not photo or not fits_caption(text):
        return None
    try:
        return await bot.send_photo(
            chat_id, photo, caption=text, reply_markup=markup, message_thread_id=thread_id
        )
    except TelegramBadRequest as exc:
        logger.info("photo %r refused (%s): the card goes as text", photo[:200], exc.message)
        return None


async def send_card(
    bot: Bot,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    photo: str | None = None,
    *,
    thread_id: int | None = None,
) -> None:
    """A product card: with its photo when it has one that Telegram takes, else as text (split under the
    limit; the buttons on the last part)."""
    if await send_photo_card(bot, chat_id, text, markup, photo, thread_id=thread_id) is not None:
        return
    chunks = split_message(text)
    for i, chunk in enumerate(chunks):
        await bot.send_message(
            chat_id,
            chunk,
            reply_markup=markup if i == len(chunks) - 1 else None,
            message_thread_id=thread_id,
        )


async def show_in_place(
    callback: CallbackQuery,
    bot: Bot,
    text: str,
    markup: InlineKeyboardMarkup | None,
    photo: str | None = None,
) -> None:
    """Show a view (a card with or without a photo, or a list) in place of the pressed message.

    A text message cannot be edited into a photo, nor a photo into a text: then the view goes out as a
    new message and the pressed one is deleted, so the chat still reads as one message turning over.
    """
    message = callback.message
    chat_id = message.chat.id if message is not None else callback.from_user.id
    if photo and fits_caption(text) and _is_photo(message):
        assert isinstance(message, Message)
        try:
            await message.edit_media(InputMediaPhoto(media=photo, caption=text), reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
            logger.info("could not edit photo %s: %s", message.message_id, exc.message)
    sent = await send_photo_card(bot, chat_id, text, markup, photo) if photo else None
    if sent is None:
        if len(text) <= TELEGRAM_LIMIT and await edit_in_place(message, text, markup):
            return
        await send_card(bot, chat_id, text, markup)
    if isinstance(message, Message) and (sent is not None or _is_photo(message)):
        await _delete(message)
