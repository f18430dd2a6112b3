"""One check in front of the routers that answer only commands, conversation steps and their buttons.

aiogram offers an update to every router in turn and tries each handler's filters: a plain-text
search went through some forty filters (every `Command` parses the text and fails) before reaching the
search router, and a results button through every `CallbackData` filter (each one an exception when
the prefix differs). `Gate` holds such routers: a message that is neither a command nor a step of a
conversation (an FSM state is set), or a button whose prefix none of them answers, skips all of them
at once. What they answer is read from the filters they were registered with, when the gate is built;
a handler the gate could not account for makes it refuse to start, so no handler is silently cut off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.keyboards import Prefixed
from handlers.filters import AnyCommand


class Gate(Router):
    """A router over routers that answer only commands, conversation steps and known button prefixes."""

    def __init__(self, *routers: Router, name: str) -> None:
        super().__init__(name=name)
        self.include_routers(*routers)
        self.prefixes = frozenset(_prefixes(self))
        for handler in _handlers(self, "message"):
            if not any(_command_or_step(f.callback) for f in handler.filters or ()):
                raise ValueError(f"{handler.callback!r} answers any message: it cannot be behind a gate")

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        if update_type == "message" and isinstance(event, Message):
            if kwargs.get("raw_state") is None and not _is_command(event):
                return UNHANDLED
        elif update_type == "callback_query" and isinstance(event, CallbackQuery):
            if (event.data or "").split(":", 1)[0] not in self.prefixes:
                return UNHANDLED
        return await super().propagate_event(update_type, event, **kwargs)


def _command_or_step(check: Any) -> bool:
    """A filter that passes only commands, or only messages sent while a conversation waits for them."""
    if isinstance(check, StateFilter):
        return all(state is not None and state != "*" for state in check.states)
    return isinstance(check, Command | AnyCommand)


def _is_command(message: Message) -> bool:
    """As aiogram's Command reads it: the text, or a document's caption, starting with '/'."""
    text = message.text or message.caption
    return bool(text) and text.startswith("/")  # type: ignore[union-attr]


def _prefix_of(check: Any) -> str | None:
    if isinstance(check, CallbackQueryFilter):
        return str(check.callback_data.__prefix__)
    if isinstance(check, Prefixed):
        return check.prefix
    return None


def _handlers(router: Router, update_type: str) -> Iterator[HandlerObject]:
    for each in router.chain_tail:
        yield from each.observers[update_type].handlers


def _prefixes(router: Router) -> Iterator[str]:
    for handler in _handlers(router, "callback_query"):
        found = [prefix for f in handler.filters or () if (prefix := _prefix_of(f.callback)) is not None]
        if not found:
            raise ValueError(f"{handler.callback!r} answers buttons of no known prefix: not behind a gate")
        yield from found
