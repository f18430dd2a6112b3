"""/grade SKU: the grade card (private figures for the owning merchant and admins only)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.grading import Policy, grade
from bot.i18n import t
from bot.render import grade_card, h, split_message
from storage.catalog import any_sku, get_product, tier_history
from storage.users import Viewer

async def grade_text(session: AsyncSession, sku: str, viewer: Viewer, policy: Policy) -> str | None:
    """The grade card for `viewer`, or None when no product is visible to them under that sku."""
    record = await get_product(session, sku)
    if record is None:
        return None
    private = viewer.may_see_private(record.merchant_id)
    if record.item.counterfeit and not private:
        return None  # hidden from everyone but its merchant and admins
    if not private:
        return grade_card(record.item, viewer.lang)
    result = grade(record.indicators, policy, record.tags)
    history = await tier_history(session, record.item.id)
    return grade_card(record.item, viewer.lang, private=(record.indicators, result), history=history)


async def grade_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, policy: Policy
) -> None:
    sku = (command.args or "").strip()
    if not sku:
        example = await any_sku(session) or "SKU-0001"
        await message.answer(t("grade.usage", viewer.lang, example=h(example)))
        return
    text = await grade_text(session, sku, viewer, policy)
    if text is None:
        await message.answer(t("grade.not_found", viewer.lang, sku=h(sku[:64])))
        return
    for chunk in split_message(text):
        await message.answer(chunk)


def make_router() -> Router:
    router = Router(name=__name__)
    router.message.register(grade_command, Command("grade"))
    return router
