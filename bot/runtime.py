"""`python -m bot run`: migrations, then long polling (or a webhook server), plus the scheduler."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiohttp import web

from bot.dispatcher import build_dispatcher
from bot.i18n import t
from bot.logs import configure_logging
from bot.services import Services, build_bot, build_catalog_index, make_redis, policy_for
from bot.settings import Settings
from bot.web import build_web_app
from handlers.common import COMMANDS
from jobs.scheduler import start_scheduler
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade

logger = logging.getLogger(__name__)


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


async def run_bot(settings: Settings) -> None:
    token = settings.require_token()
    if settings.log_format == "json":
        configure_logging("json")
    logger.info("applying migrations")
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    catalog = build_catalog_index()
    await catalog.refresh(sessionmaker)
    redis = make_redis(settings)
    services = Services(
        settings=settings,
        sessionmaker=sessionmaker,
        policy=policy_for(settings),
        catalog=catalog,
        redis=redis,
    )
    bot = build_bot(token, api_url=settings.telegram_api_url)
    dp = build_dispatcher(services)
    scheduler = None
    try:
        scheduler = start_scheduler(bot, services)
        try:
            await set_commands(bot, settings)
        except Exception as exc:  # noqa: BLE001 - a menu that fails to set must not stop the bot
            logger.warning("could not set the command menu: %s", exc)
        if settings.webhook_url:
            await _run_webhook(bot, dp, settings, services)
        else:
            await _run_polling(bot, dp, settings, services)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await services.cancel_jobs()
        await bot.session.close()
        await engine.dispose()
        if redis is not None:
            await redis.aclose()


async def _run_polling(bot: Bot, dp: Dispatcher, settings: Settings, services: Services) -> None:
    """Long polling, with /healthz, /readyz and /metrics on WEBHOOK_HOST:WEBHOOK_PORT beside it."""
    runner = web.AppRunner(build_web_app(services))
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        logger.info("health and metrics on %s:%s", settings.webhook_host, settings.webhook_port)
    except OSError as exc:  # the port is taken: the bot still serves its users, unwatched
        logger.warning(
            "could not serve /healthz and /metrics on %s:%s: %s",
            settings.webhook_host,
            settings.webhook_port,
            exc,
        )
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        logger.info("polling %s", settings.telegram_api_url)
        await dp.start_polling(bot, allowed_updates=dp.resolve_used_update_types())
    finally:
        await runner.cleanup()


async def _run_webhook(
    bot: Bot, dp: Dispatcher, settings: Settings, services: Services | None = None
) -> None:
    url, secret = settings.require_webhook()
    if services is None:
        services = dp["services"]
    app = build_web_app(services, dispatcher=dp, bot=bot, webhook_secret=secret)
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
