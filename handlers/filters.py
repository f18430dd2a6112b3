"""Async filters (aiogram runs synchronous magic filters in a thread: keep the hot path async)."""

from __future__ import annotations

from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, InlineQuery, Message

from storage.users import Viewer


class RoleFilter(BaseFilter):
    """Passes when the acting user holds one of `roles` (roles add up). Put it on messages *and* callbacks."""

    def __init__(self, *roles: str) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: Message | CallbackQuery | InlineQuery, viewer: Viewer) -> bool:
        return not self.roles.isdisjoint(viewer.roles)


class PrivateChat(BaseFilter):
    async def __call__(self, message: Message) -> bool:
        return message.chat.type == "private"


class PlainText(BaseFilter):
    """A text message that is not a command."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and message.text != "" and not message.text.startswith("/")


class AnyCommand(BaseFilter):
    async def __call__(self, message: Message) -> bool:
        return message.text is not None and message.text.startswith("/")
