"""The bot's HTTP app: the Mini App (static files at /app/, JSON at /app/api/), and the webhook when
there is one. One factory, so other parts (health checks, metrics) add their routes to the same app.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.services import Services
from bot.webapp.api import LEVERS, SERVICES, TOKEN, add_api_routes, auth_middleware

STATIC = Path(__file__).parent / "webapp" / "static"


async def _index(request: web.Request) -> web.FileResponse:
    # The page itself holds nothing private: the data comes from the authenticated API.
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/app/" + (f"?{request.query_string}" if request.query_string else ""))


def build_web_app(services: Services, *, token: str) -> web.Application:
    """The aiohttp app serving the Mini App; the webhook handler is registered on it by the runtime."""
    app = web.Application(middlewares=[auth_middleware], client_max_size=21 * 1024 * 1024)
    app[SERVICES] = services
    app[TOKEN] = token
    app[LEVERS] = {}
    app.router.add_get("/app", _to_index)
    app.router.add_get("/app/", _index)
    app.router.add_static("/app/static/", STATIC, append_version=False)
    add_api_routes(app)
    return app
