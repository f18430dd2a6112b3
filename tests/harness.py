"""Drive the real dispatcher with real `Update`s on a bot whose session records every request."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from aiogram.types import CallbackQuery, Chat, Document, InlineQuery, Message, PhotoSize, Update
from aiogram.types import User as TgUser

from bot.dispatcher import build_dispatcher
from bot.local_session import LocalSession
from bot.services import Services, build_bot

BOT = TgUser(id=42, is_bot=True, first_name="选品助手")


class ChatHarness:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.session = LocalSession()
        self.bot = build_bot("42:TEST-TOKEN-FOR-THE-LOCAL-SESSION", session=self.session)
        self.dp = build_dispatcher(services)
        self._ids = itertools.count(1)

    def _user(self, user_id: int, lang: str) -> TgUser:
        return TgUser(id=user_id, is_bot=False, first_name=f"user{user_id}", language_code=lang)

    async def _feed(self, update: Update) -> list[Any]:
        before = len(self.session.requests)
        await self.dp.feed_update(self.bot, update)
        await self.services.jobs_done()  # what the update started in the background (alerts after /import)
        return self.session.requests[before:]

    async def message(
        self,
        user_id: int,
        text: str | None,
        *,
        lang: str = "zh-hans",
        chat_type: str = "private",
        chat_id: int | None = None,
        document: Document | None = None,
        caption: str | None = None,
    ) -> list[Any]:
        """Send a message as `user_id`; returns the bot's requests it caused."""
        chat = Chat(id=chat_id if chat_id is not None else user_id, type=chat_type)
        message = Message(
            message_id=next(self._ids),
            date=int(time.time()),
            chat=chat,
            from_user=self._user(user_id, lang),
            text=text,
            document=document,
            caption=caption,
        )
        return await self._feed(Update(update_id=next(self._ids), message=message))

    async def callback(
        self,
        user_id: int,
        data: str,
        *,
        lang: str = "zh-hans",
        message_id: int = 1,
        caption: str | None = None,
    ) -> list[Any]:
        """Press a button under a text message, or under a photo when `caption` is given."""
        photo = [PhotoSize(file_id="p", file_unique_id="p", width=800, height=800)]
        message = Message(
            message_id=message_id,
            date=int(time.time()),
            chat=Chat(id=user_id, type="private"),
            from_user=BOT,
            text="…" if caption is None else None,
            caption=caption,
            photo=photo if caption is not None else None,
        )
        query = CallbackQuery(
            id=str(next(self._ids)),
            from_user=self._user(user_id, lang),
            chat_instance="t",
            message=message,
            data=data,
        )
        return await self._feed(Update(update_id=next(self._ids), callback_query=query))

    async def inline(self, user_id: int, query: str, *, offset: str = "", lang: str = "zh-hans") -> list[Any]:
        inline = InlineQuery(
            id=str(next(self._ids)), from_user=self._user(user_id, lang), query=query, offset=offset
        )
        return await self._feed(Update(update_id=next(self._ids), inline_query=inline))

    async def close(self) -> None:
        await self.bot.session.close()


def texts(requests: list[Any]) -> list[str]:
    """The text of every message the bot sent or edited (captions included)."""
    out = []
    for r in requests:
        for attr in ("text", "caption"):
            value = getattr(r, attr, None)
            if isinstance(value, str):
                out.append(value)
    return out


def buttons(request: Any) -> list[tuple[str, str | None]]:
    markup = getattr(request, "reply_markup", None)
    if markup is None or not hasattr(markup, "inline_keyboard"):
        return []
    return [(b.text, b.callback_data) for row in markup.inline_keyboard for b in row]


def plain(html_text: str) -> str:
    """What the user sees (tags stripped, entities unescaped)."""
    from html import unescape

    return unescape(re.sub(r"<[^>]+>", "", html_text))


def assert_valid_html(text: str) -> None:
    """Only Telegram's tags, balanced; every other '<' and '&' escaped."""
    from tests.fakes.bot_api import _html_to_plain

    _html_to_plain(text)  # raises on an unsupported or unbalanced tag
