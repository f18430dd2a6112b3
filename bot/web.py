"""The bot's one aiohttp app, so one port (WEBHOOK_PORT) serves everything:

/webhook  Telegram's updates (webhook mode)
/app/     the Mini App (static files; its JSON API under /app/api/, every call signed with initData)
/healthz  the process is up (200, always, while it can answer at all)
/readyz   the database and Redis (when configured) answer: 200, or 503 naming what failed
/metrics  Prometheus text format (bot/metrics.py)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.metrics import exposition
from bot.services import Services
from bot.webapp.api import LEVERS, SERVICES, TOKEN, add_api_routes, auth_middleware

logger = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 3.0
WEBHOOK_PATH = "/webhook"
STATIC = Path(__file__).parent / "webapp" / "static"


def build_web_app(
    services: Services,
    *,
    token: str,
    dispatcher: Dispatcher | None = None,
    bot: Bot | None = None,
    webhook_secret: str | None = None,
) -> web.Application:
    """The app; with a dispatcher and a bot it also takes Telegram's updates at WEBHOOK_PATH."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=21 * 1024 * 1024)
    app[SERVICES] = services
    app[TOKEN] = token
    app[LEVERS] = {}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/app", _to_index)
    app.router.add_get("/app/", _index)
    app.router.add_static("/app/static/", STATIC, append_version=False)
    add_api_routes(app)
    if dispatcher is not None and bot is not None:
        SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=webhook_secret).register(
            app, path=WEBHOOK_PATH
        )
        setup_application(app, dispatcher, bot=bot)
    return app


async def _index(request: web.Request) -> web.FileResponse:
    # The page itself holds nothing private: the data comes from the authenticated API.
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/app/" + (f"?{request.query_string}" if request.query_string else ""))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    checks = {"database": await _database_ok(services)}
    if services.redis is not None:
        checks["redis"] = await _redis_ok(services)
    failed = sorted(name for name, ok in checks.items() if not ok)
    body = {"status": "ok" if not failed else "unavailable", "failed": failed}
    body.update({name: "ok" if ok else "unreachable" for name, ok in checks.items()})
    return web.json_response(body, status=200 if not failed else 503)


async def metrics(request: web.Request) -> web.Response:
    payload, content_type = exposition()
    # aiohttp wants the charset apart from the media type
    media_type, _, params = content_type.partition(";")
    charset = params.split("charset=")[-1].strip() if "charset=" in params else "utf-8"
    return web.Response(body=payload, content_type=media_type.strip(), charset=charset)


async def _database_ok(services: Services) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with services.sessionmaker() as session:
                await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return True
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        logger.warning("readiness: the database does not answer: %s", exc)
        return False


async def _redis_ok(services: Services) -> bool:
    assert services.redis is not None
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await services.redis.ping()
        return True
    except Exception as exc:  # noqa: BLE001 - any failure to answer a ping means "not ready"
        logger.warning("readiness: Redis does not answer: %s", exc)
        return False
