"""`python -m bot run`: migrations, then long polling (or a webhook server), plus the scheduler."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from bot.dispatcher import build_dispatcher
from bot.i18n import t
from bot.services import Services, build_bot, build_catalog_index, outbound_limiter, policy_for
from bot.settings import Settings
from handlers.common import COMMANDS
from jobs.scheduler import start_scheduler
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade

logger = logging.getLogger(__name__)

UPDATES_IN_FLIGHT = 32  # handlers running at once when polling (the database pool holds 15 connections)


async def set_commands(bot: Bot, settings: Settings) -> None:
    """The command menu: streamer commands for everyone, admin commands for admins."""

    for lang_code, lang in ((None, "zh"), ("en", "en")):
        await bot.set_my_commands(
            [BotCommand(command=c, description=t(f"cmd.{c}", lang)[:256]) for c in COMMANDS["streamer"]],
            scope=BotCommandScopeDefault(),
            language_code=lang_code,
        )
    for admin_id in settings.admin_ids:
        await bot.set_my_commands(
            [BotCommand(command=c, description=t(f"cmd.{c}", "zh")[:256]) for c in COMMANDS["admin"]],
            scope=BotCommandScopeChat(chat_id=admin_id),
        )


def polling_options(dp: Dispatcher) -> dict[str, Any]:
    """How `run_bot` long-polls (benchmarks/updates_throughput.py polls the same way).

    A backlog of updates must not start thousands of handlers at once: they would all queue for the
    database pool, time out after 30 s and answer "something went wrong". A bounded number in flight
    keeps the rest waiting in Telegram's queue, in order.
    """
    return {
        "allowed_updates": dp.resolve_used_update_types(),
        "tasks_concurrency_limit": UPDATES_IN_FLIGHT,
    }


async def run_bot(settings: Settings) -> None:
    token = settings.require_token()
    logger.info("applying migrations")
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    catalog = build_catalog_index()
    await catalog.refresh(sessionmaker)
    services = Services(
        settings=settings, sessionmaker=sessionmaker, policy=policy_for(settings), catalog=catalog
    )
    limiter = outbound_limiter(settings)
    bot = build_bot(token, api_url=settings.telegram_api_url, limiter=limiter)
    dp = build_dispatcher(services)
    scheduler = None
    try:
        scheduler = start_scheduler(bot, services)
        try:
            await set_commands(bot, settings)
        except Exception as exc:  # noqa: BLE001 - a menu that fails to set must not stop the bot
            logger.warning("could not set the command menu: %s", exc)
        if settings.webhook_url:
            await _run_webhook(bot, dp, settings)
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            logger.info("polling %s", settings.telegram_api_url)
            await dp.start_polling(bot, **polling_options(dp))
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await services.cancel_jobs()
        if services.throttle is not None:
            await services.throttle.close()
        await bot.session.close()
        await limiter.close()
        await engine.dispose()


async def _run_webhook(bot: Bot, dp: Dispatcher, settings: Settings) -> None:
    import asyncio

    from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
    from aiohttp import web

    url, secret = settings.require_webhook()
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path="/webhook")
    setup_application(app, dp, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
    await site.start()
    await bot.set_webhook(url, secret_token=secret, allowed_updates=dp.resolve_used_update_types())
    logger.info("webhook listening on %s:%s for %s", settings.webhook_host, settings.webhook_port, url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
