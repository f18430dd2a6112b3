"""`python -m bot run`: migrations, then long polling (or a webhook server), plus the scheduler."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import MenuButtonWebApp, WebAppInfo
from aiohttp import web

from bot.commands import set_default_menus
from bot.dedup import UPDATES_IN_FLIGHT
from bot.dispatcher import build_dispatcher
from bot.i18n import t
from bot.logs import configure_logging
from bot.services import Services, build_bot, build_catalog_index, make_redis, outbound_limiter, policy_for
from bot.settings import Settings
from bot.web import build_web_app
from jobs.scheduler import start_scheduler
from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade
from storage.users import FactsReader

logger = logging.getLogger(__name__)


async def set_commands(bot: Bot, settings: Settings) -> None:
    """The command menus (bot.commands); each user's own is set after /start and /bind."""
    await set_default_menus(bot, settings.admin_ids)


async def set_menu_button(bot: Bot, settings: Settings) -> None:
    """With WEBAPP_URL set, the menu button next to the message box opens the Mini App."""
    if not settings.webapp_url:
        return
    url = settings.webapp_url
    await bot.set_chat_menu_button(
        menu_button=MenuButtonWebApp(text=t("app.menu_button", "zh")[:64], web_app=WebAppInfo(url=url))
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


GC_THRESHOLDS = (10_000, 20, 100)  # the youngest generation is collected every 10,000 net allocations
_PYTHON_GC_THRESHOLDS = gc.get_threshold()


def settle_heap() -> None:
    """Once started: move everything alive (the catalog index, jieba's dictionary, aiogram's classes)
    out of the garbage collector's sight. Each full collection otherwise walks half a million objects
    that never die (≈0.3 s), several times a minute under load; a later index is collected as usual.

    Then collect less often: an update allocates a few hundred objects that die by reference count,
    and at Python's default (every 700) the collector ran ~700 times in 5,000 updates for 6 % of
    the CPU; at GC_THRESHOLDS it runs a handful of times (benchmarks/updates_throughput.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def unsettle_heap() -> None:
    """Undo `settle_heap` once the bot stops: what was frozen may be collected again, as often as usual."""
    gc.unfreeze()
    gc.set_threshold(*_PYTHON_GC_THRESHOLDS)


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
        facts_reader=FactsReader.for_engine(engine),
    )
    limiter = outbound_limiter(settings)
    bot = build_bot(token, api_url=settings.telegram_api_url, limiter=limiter)
    dp = build_dispatcher(services)
    settle_heap()
    scheduler = None
    try:
        scheduler = start_scheduler(bot, services)
        try:
            await set_commands(bot, settings)
        except Exception as exc:  # noqa: BLE001 - a menu that fails to set must not stop the bot
            logger.warning("could not set the command menu: %s", exc)
        try:
            await set_menu_button(bot, settings)
        except Exception as exc:  # noqa: BLE001 - the chat works without the menu button
            logger.warning("could not set the Mini App menu button: %s", exc)
        if settings.webhook_url:
            await _run_webhook(bot, dp, settings, services, token)
        else:
            await _run_polling(bot, dp, settings, services, token)
    finally:
        unsettle_heap()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await services.cancel_jobs()
        if services.throttle is not None:
            await services.throttle.close()
        await bot.session.close()
        await limiter.close()
        if services.facts_reader is not None:
            await services.facts_reader.close()
        await engine.dispose()
        if redis is not None:
            await redis.aclose()


async def _serve(app: web.Application, settings: Settings) -> web.AppRunner | None:
    """Listen on WEBHOOK_HOST:WEBHOOK_PORT; None (logged) when the port is taken."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    except OSError as exc:
        logger.warning("could not listen on %s:%s: %s", settings.webhook_host, settings.webhook_port, exc)
        await runner.cleanup()
        return None
    logger.info("http listening on %s:%s", settings.webhook_host, settings.webhook_port)
    return runner


async def _run_polling(bot: Bot, dp: Dispatcher, settings: Settings, services: Services, token: str) -> None:
    """Long polling, with the Mini App, /healthz, /readyz and /metrics on WEBHOOK_PORT beside it (a
    taken port costs those, not the chat)."""
    runner = await _serve(build_web_app(services, token=token), settings)
    try:
        await bot.delete_webhook(drop_pending_updates=False)
        logger.info("polling %s", settings.telegram_api_url)
        await dp.start_polling(bot, **polling_options(dp))
    finally:
        if runner is not None:
            await runner.cleanup()


async def _run_webhook(bot: Bot, dp: Dispatcher, settings: Settings, services: Services, token: str) -> None:
    """The webhook, the Mini App and the operator's endpoints on one app at WEBHOOK_PORT."""
    url, secret = settings.require_webhook()
    app = build_web_app(services, token=token, dispatcher=dp, bot=bot, webhook_secret=secret)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(
        runner, settings.webhook_host, settings.webhook_port
    ).start()  # must listen: no fallback
    await bot.set_webhook(url, secret_token=secret, allowed_updates=dp.resolve_used_update_types())
    logger.info("webhook listening on %s:%s for %s", settings.webhook_host, settings.webhook_port, url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
