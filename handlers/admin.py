"""Admin tools: /invite MERCHANT, /import (a document with that caption), /regrade, /stats.

Everything here is behind `RoleFilter(ADMIN)` on messages and callbacks; anyone else who tries an
admin command, or presses an admin's button, is told so and nothing happens.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
from pathlib import Path

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    Document,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.import_report import error_list, file_error_text, import_summary, regrade_summary
from bot.keyboards import AdminCb, Prefixed
from bot.render import h, local_time, tier_label
from bot.services import Services
from bot.settings import Settings
from core.catalog import TIERS
from core.schedule import local_today
from handlers.filters import RoleFilter
from handlers.merchant import unknown_merchant_text
from handlers.replies import edit_in_place, viewer_zone
from storage.importer import FileProblem, ImportFileError, ImportKind, ImportReport, import_file
from storage.invites import RevokeStatus, create_invite, revoke_invite
from storage.merchants import close_merchants, find_merchant
from storage.regrade import regrade_all
from storage.stats import Stats, catalog_stats
from storage.tables import utcnow
from storage.users import ADMIN, Viewer

logger = logging.getLogger(__name__)

ADMIN_COMMANDS = ("invite", "import", "regrade", "stats")
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile limit
INLINE_ERRORS = 25  # more bad cells than this, or a long report, and the report comes as a file
INLINE_CHARS = 3000
TOP_CATEGORIES = 15
_DRY = {"dry", "dry-run", "--dry-run", "试运行", "校验"}
_SKIP = {"skip", "skip-invalid", "--skip-invalid", "跳过"}
_STREAMERS = {"streamers", "streamer", "主播"}


# --------------------------------------------------------------------------- /invite


async def invite_command(
    message: Message, command: CommandObject, session: AsyncSession, viewer: Viewer, settings: Settings
) -> None:
    lang = viewer.lang
    arg = (command.args or "").strip()
    if not arg:
        examples = await close_merchants("", limit=1, session=session)
        text = t("invite.usage", lang, example=h(examples[0])) if examples else t("invite.no_merchants", lang)
        await message.answer(text)
        return
    merchant = await find_merchant(arg, session=session)
    if merchant is None:
        await message.answer(await unknown_merchant_text(session, arg, lang))
        return
    invite = await create_invite(merchant, created_by=viewer.telegram_id, session=session)
    zone = viewer_zone(viewer, settings)
    text = t(
        "invite.created",
        lang,
        merchant=f"<b>{h(merchant.name)}</b>"
        + ("" if merchant.name == merchant.code else f" (<code>{h(merchant.code)}</code>)"),
        code=invite.code,
        expires=f"{local_time(invite.expires_at, zone)} ({h(zone.key)})",
    )
    revoke = AdminCb(action="revoke", arg=invite.code).pack()
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t("invite.revoke_button", lang), callback_data=revoke)]]
    )
    await message.answer(text, reply_markup=markup)


async def revoke_pressed(
    query: CallbackQuery, callback_data: AdminCb, session: AsyncSession, viewer: Viewer
) -> None:
    status = await revoke_invite(callback_data.arg, session=session)
    await query.answer(
        t(f"invite.revoke_{status.value}", viewer.lang, code=callback_data.arg), show_alert=True
    )
    message = query.message
    if status != RevokeStatus.UNKNOWN and isinstance(message, Message) and message.text:
        try:
            await message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest as exc:
            logger.info("could not remove the revoke button: %s", exc.message)


# --------------------------------------------------------------------------- /import


async def import_command(
    message: Message, command: CommandObject, bot: Bot, services: Services, viewer: Viewer
) -> None:
    """`/import` as a document's caption: the CLI's validation and report, then alerts on success."""
    lang = viewer.lang
    document = message.document
    if document is None:
        await message.answer(t("import.usage", lang))
        return
    words = {w.lower() for w in (command.args or "").split()}
    kind: ImportKind = "streamers" if words & _STREAMERS else "products"
    dry_run, skip_invalid = bool(words & _DRY), bool(words & _SKIP)
    limits = services.import_limits()
    if document.file_size and document.file_size > limits.max_bytes:
        too_large = ImportFileError(FileProblem.TOO_LARGE, size=document.file_size, limit=limits.max_bytes)
        await _send_report(message, too_large, lang)
        return
    if document.file_size and document.file_size > DOWNLOAD_LIMIT:
        await message.answer(t("import.too_big", lang, size=_size(document.file_size)))
        return
    name = document.file_name or "upload.csv"
    await message.answer(t("import.started", lang, name=h(name), kind=t(f"import.kind_{kind}", lang)))
    data = await _download(bot, document)
    if data is None:
        await message.answer(t("import.too_big", lang, size=_size(document.file_size or 0)))
        return
    # The file size Telegram reports may be missing; the importer checks the bytes it got, too.
    report = await _run_import(services, kind, name, data, dry_run=dry_run, skip_invalid=skip_invalid)
    await _send_report(message, report, lang)
    if isinstance(report, ImportReport) and report.written and kind == "products":
        services.catalog_changed(bot, report.tier_changes)  # index, alerts, watches: a job, not this update


async def _download(bot: Bot, document: Document) -> bytes | None:
    buffer = io.BytesIO()
    try:
        await bot.download(document, destination=buffer)
    except TelegramBadRequest as exc:  # "file is too big"
        logger.info("could not download %s: %s", document.file_name, exc.message)
        return None
    return buffer.getvalue()


async def _run_import(
    services: Services,
    kind: ImportKind,
    name: str,
    data: bytes,
    *,
    dry_run: bool,
    skip_invalid: bool,
) -> ImportReport | ImportFileError:
    """The importer on a temporary copy of the upload: an ImportReport, or the ImportFileError."""
    suffix = Path(name).suffix.lower()[:8] or ".csv"
    with tempfile.TemporaryDirectory(prefix="xuanpin-import-") as folder:
        path = Path(folder) / f"upload{suffix}"
        await asyncio.to_thread(path.write_bytes, data)
        try:
            return await import_file(
                services.sessionmaker,
                kind,
                path,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                policy=services.policy,
                limits=services.import_limits(),
            )
        except ImportFileError as exc:
            return exc  # described below, in the admin's language


async def _send_report(message: Message, report: ImportReport | ImportFileError, lang: str) -> None:
    if isinstance(report, ImportFileError):
        await message.answer(t("import.file_error", lang, reason=h(file_error_text(report, lang))))
        return
    summary = h(import_summary(report, lang))
    if not report.errors:
        await message.answer(summary)
        return
    if not report.written and not report.dry_run:
        summary += "\n" + t("import.skip_hint", lang)
    full = error_list(report, lang)
    if len(report.errors) <= INLINE_ERRORS and len(full) <= INLINE_CHARS:
        head = t("import.errors_head", lang, n=report.errors_total)
        await message.answer(f"{summary}\n\n{head}\n<pre>{h(full)}</pre>")
        return
    await message.answer(f"{summary}\n\n{t('import.errors_file', lang, n=report.errors_total)}")
    await message.answer_document(
        BufferedInputFile(full.encode("utf-8"), filename="import-errors.txt"),
        caption=t("import.errors_caption", lang, n=report.errors_total),
    )


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


# --------------------------------------------------------------------------- /regrade


async def regrade_command(message: Message, bot: Bot, services: Services, viewer: Viewer) -> None:
    await message.answer(t("regrade.started", viewer.lang))
    report = await regrade_all(services.sessionmaker, policy=services.policy, reason="regrade")
    await message.answer(h(regrade_summary(report, viewer.lang)))
    services.catalog_changed(bot, report.tier_changes)


# --------------------------------------------------------------------------- /stats


def stats_text(stats: Stats, lang: str) -> str:
    lines = [t("stats.title", lang), "", t("stats.products", lang, n=stats.products)]
    lines += [f"  {tier_label(tier, lang)}: {stats.by_tier.get(tier, 0)}" for tier in reversed(TIERS)]
    if stats.by_category:
        lines += ["", t("stats.categories", lang, n=len(stats.by_category))]
        lines += [f"  {h(name)}: {n}" for name, n in stats.by_category[:TOP_CATEGORIES]]
        rest = stats.by_category[TOP_CATEGORIES:]
        if rest:
            lines.append("  " + t("stats.other_categories", lang, k=len(rest), n=sum(n for _, n in rest)))
    lines += [
        "",
        t(
            "stats.streamers",
            lang,
            started=stats.streamers_started,
            digest_on=stats.streamers_digest_on,
            imported=stats.streamers_imported,
        ),
        t(
            "stats.merchants",
            lang,
            merchants=stats.merchants,
            bound=stats.merchants_bound,
            users=stats.merchant_users,
        ),
        "",
        t(
            "stats.digests",
            lang,
            since=stats.since.isoformat() if stats.since else "-",
            sent=stats.digests.get("sent", 0),
            failed=stats.digests.get("failed", 0) + stats.digests.get("invalid", 0),
            blocked=stats.digests.get("blocked", 0),
            pending=stats.digests.get("pending", 0) + stats.digests.get("sending", 0),
        ),
    ]
    return "\n".join(lines)


async def _stats(
    session: AsyncSession, settings: Settings, viewer: Viewer
) -> tuple[str, InlineKeyboardMarkup]:
    lang = viewer.lang
    today = local_today(utcnow(), viewer_zone(viewer, settings))
    stats = await catalog_stats(today=today, admin_ids=settings.admin_ids, session=session)
    refresh = AdminCb(action="stats").pack()
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t("stats.refresh", lang), callback_data=refresh)]]
    )
    return stats_text(stats, lang), markup


async def stats_command(message: Message, session: AsyncSession, settings: Settings, viewer: Viewer) -> None:
    text, markup = await _stats(session, settings, viewer)
    await message.answer(text, reply_markup=markup)


async def stats_pressed(
    query: CallbackQuery, session: AsyncSession, settings: Settings, viewer: Viewer
) -> None:
    text, markup = await _stats(session, settings, viewer)
    await edit_in_place(query.message, text, markup)
    await query.answer()


# --------------------------------------------------------------------------- refusals


async def admins_only(message: Message, viewer: Viewer) -> None:
    await message.answer(t("admin.only", viewer.lang))


async def admins_only_button(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("admin.only_button", viewer.lang), show_alert=True)


async def stale_admin_button(query: CallbackQuery, viewer: Viewer) -> None:
    await query.answer(t("admin.stale_button", viewer.lang), show_alert=True)


def make_router() -> Router:
    router = Router(name=__name__)

    guarded = Router(name=f"{__name__}.guarded")
    guarded.message.filter(RoleFilter(ADMIN))
    guarded.callback_query.filter(RoleFilter(ADMIN))
    guarded.message.register(invite_command, Command("invite"))
    guarded.message.register(import_command, Command("import"))  # the caption of a document counts
    guarded.message.register(regrade_command, Command("regrade"))
    guarded.message.register(stats_command, Command("stats"))
    guarded.callback_query.register(revoke_pressed, AdminCb.filter(F.action == "revoke"))
    guarded.callback_query.register(stats_pressed, AdminCb.filter(F.action == "stats"))
    guarded.callback_query.register(stale_admin_button, Prefixed(AdminCb.__prefix__))

    refusals = Router(name=f"{__name__}.refusals")
    refusals.message.register(admins_only, Command(*ADMIN_COMMANDS))
    refusals.callback_query.register(admins_only_button, Prefixed(AdminCb.__prefix__))

    router.include_routers(guarded, refusals)
    return router
