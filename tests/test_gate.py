"""The gate before the command routers (handlers/gate.py): it skips them only for what they cannot answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Document, Message, Update, User

from bot.keyboards import Prefixed
from handlers import setup_routers
from handlers.filters import PlainText
from handlers.gate import Gate

ME = User(id=5, is_bot=False, first_name="主播")
CHAT = Chat(id=5, type="private")


class Ask(StatesGroup):
    reason = State()


class DemoCb(CallbackData, prefix="dm"):
    n: int


def gated_dispatcher(seen: list[str]) -> Dispatcher:
    inner = Router()

    async def on_help(message: Message) -> None:
        seen.append("help")

    async def on_reason(message: Message) -> None:
        seen.append("reason")

    async def on_ask(message: Message, state: FSMContext) -> None:
        await state.set_state(Ask.reason)
        seen.append("ask")

    async def on_button(query: CallbackQuery, callback_data: DemoCb) -> None:
        seen.append(f"button {callback_data.n}")

    async def on_stale(query: CallbackQuery) -> None:
        seen.append("stale")

    inner.message.register(on_help, Command("help"))
    inner.message.register(on_ask, Command("ask"))
    inner.message.register(on_reason, StateFilter(Ask.reason), PlainText())
    inner.callback_query.register(on_button, DemoCb.filter())
    inner.callback_query.register(on_stale, Prefixed(DemoCb.__prefix__))

    after = Router()

    async def on_text(message: Message) -> None:
        seen.append("search")

    async def on_any_button(query: CallbackQuery) -> None:
        seen.append("other button")

    after.message.register(on_text, PlainText())
    after.callback_query.register(on_any_button)
    dp = Dispatcher()
    dp.include_routers(Gate(inner, name="gate"), after)
    return dp


def text(body: str, update_id: int, **extra: Any) -> Update:
    message = Message(
        message_id=update_id, date=datetime.now(UTC), chat=CHAT, from_user=ME, text=body, **extra
    )
    return Update(update_id=update_id, message=message)


def press(data: str, update_id: int) -> Update:
    query = CallbackQuery(id=str(update_id), from_user=ME, chat_instance="c", data=data)
    return Update(update_id=update_id, callback_query=query)


async def test_commands_steps_and_known_buttons_pass_the_gate_and_the_rest_goes_on() -> None:
    seen: list[str] = []
    dp = gated_dispatcher(seen)
    bot = Bot("123456:TEST")
    updates = [
        text("牙膏", 1),  # plain text: straight past the gate to the search
        text("/help", 2),  # a command
        press("dm:3", 3),  # a button the gated routers answer
        press("dm:x", 4),  # their prefix, a forged payload: their stale-button handler
        press("so:1:k:0", 5),  # someone else's prefix
        text("/ask", 6),  # starts a conversation ...
        text("太贵了", 7),  # ... so the next plain text is its step, not a search
    ]
    for update in updates:
        await dp.feed_update(bot, update)
    await bot.session.close()
    assert seen == ["search", "help", "button 3", "stale", "other button", "ask", "reason"]


async def test_a_documents_caption_counts_as_its_command() -> None:
    seen: list[str] = []
    router = Router()

    async def on_import(message: Message) -> None:
        seen.append("import")

    router.message.register(on_import, Command("import"))
    dp = Dispatcher()
    dp.include_router(Gate(router, name="gate"))
    document = Document(file_id="f", file_unique_id="f", file_name="goods.csv")
    update = Update(
        update_id=1,
        message=Message(
            message_id=1,
            date=datetime.now(UTC),
            chat=CHAT,
            from_user=ME,
            document=document,
            caption="/import",
        ),
    )
    bot = Bot("123456:TEST")
    await dp.feed_update(bot, update)
    await bot.session.close()
    assert seen == ["import"]


def test_a_router_that_answers_any_text_or_any_button_cannot_be_gated() -> None:
    async def anything(event: Any) -> None: ...

    texts = Router()
    texts.message.register(anything, PlainText())
    with pytest.raises(ValueError, match="any message"):
        Gate(texts, name="gate")
    buttons = Router()
    buttons.callback_query.register(anything)
    with pytest.raises(ValueError, match="no known prefix"):
        Gate(buttons, name="gate")


def test_the_bots_own_gate_covers_every_feature_router() -> None:
    root = setup_routers()  # builds the real gate: it refuses any handler it cannot account for
    (gate,) = [r for r in root.sub_routers if isinstance(r, Gate)]
    assert {"pk", "sm", "ad", "gr", "ac"} <= gate.prefixes
    assert "so" not in gate.prefixes and "sp" not in gate.prefixes  # search buttons go past it
