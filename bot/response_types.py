"""Keeps aiogram's parsed-response classes alive, so they are built once per process, not once per GC.

aiogram parses every Bot API answer with `Response[method.__returning__]`, a pydantic generic class made
on first use. pydantic caches those classes in a WeakValueDictionary; nothing else holds them, so the
garbage collector drops them and the next request of that method builds the class again (≈10 ms of
schema building each time). Under load that was a third of the bot's CPU. This request middleware holds
a strong reference to each class once its method has been used.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod


class KeepResponseTypes(BaseRequestMiddleware):
    """Pins `Response[...]` for each method type this bot has called."""

    def __init__(self) -> None:
        self._kept: dict[type, Any] = {}

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        kind = type(method)
        if kind not in self._kept:
            self._kept[kind] = Response[method.__returning__]  # type: ignore[name-defined]
        return await make_request(bot, method)
