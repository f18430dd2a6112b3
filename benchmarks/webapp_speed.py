"""How fast does the Mini App answer a filtered catalog page at 100,000 goods?

    .venv/bin/python benchmarks/webapp_speed.py [--items 100000] [--runs 50]

Builds the live search index over `generated_catalog(--items)`, serves the real Mini App (its
aiohttp app, initData check and viewer lookup on a temporary migrated SQLite database) on
loopback, and times GET /app/api/catalog for several filters: the whole request as the server
handles it (measured around the handler by a middleware) and the round trip seen by the client.
Prints the median and 95th percentile of each. Target: p95 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import ClientSession, web  # noqa: E402

from benchmarks.catalog import generated_catalog  # noqa: E402
from bot.services import Services, build_catalog_index  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.web import build_web_app  # noqa: E402
from core.catalog import CatalogItem  # noqa: E402
from core.policy import default_policy  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.webapp_support import TOKEN, sign_init_data  # noqa: E402

QUERIES = {
    "first page, no filter": "",
    "L5+L4, ¥50–500, by price": "tier=L5,L4&min_price=50&max_price=500&sort=price_asc",
    "category + badge": "category={category}&badge={badge}",
    "commission ≥ 30%, by commission": "min_commission=30&sort=commission_desc",
    "page 200 of everything": "page=200",
}


def with_badges(item: CatalogItem) -> CatalogItem:
    """The generated catalog carries no badges; give it the two the filter is most used with."""
    badges = ("精选好物",) if item.tier in ("L4", "L5") else ()
    if item.commission_rate >= 0.25:
        badges += ("高佣",)
    return replace(item, badges=badges)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def main(items: int, runs: int) -> None:
    started = time.perf_counter()
    catalog = build_catalog_index()
    catalog.replace([with_badges(it) for it in generated_catalog(items)])
    index = catalog.current
    print(f"index of {len(index):,} goods built in {time.perf_counter() - started:.1f} s")
    category = max({it.category for it in index.items[:2000]})
    badge = "高佣"

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await upgrade(url)
        engine = make_engine(url)
        settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
        services = Services(
            settings=settings,
            sessionmaker=make_sessionmaker(engine),
            policy=default_policy(),
            catalog=catalog,
        )
        app = build_web_app(services, token=TOKEN)
        server_times: list[float] = []

        @web.middleware
        async def timer(request: web.Request, handler):  # outermost: auth, viewer, browse, JSON
            t0 = time.perf_counter()
            response = await handler(request)
            server_times.append(time.perf_counter() - t0)
            return response

        app.middlewares.insert(0, timer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}/app/api/catalog?"
        headers = {"X-Telegram-Init-Data": sign_init_data(700)}
        try:
            async with ClientSession() as client:
                t0 = time.perf_counter()
                async with client.get(base, headers=headers) as response:
                    assert response.status == 200, await response.text()
                first = 1000 * (time.perf_counter() - t0)
                print(f"first request (builds the category and badge arrays): {first:.0f} ms")
                print(f"{'query':36} {'matches':>8} {'server median':>14} {'p95':>8} {'round trip p95':>15}")
                for name, template in QUERIES.items():
                    query = template.format(category=category, badge=badge)
                    server_times.clear()
                    trips: list[float] = []
                    total = 0
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        async with client.get(base + query, headers=headers) as response:
                            body = await response.json()
                        trips.append(time.perf_counter() - t0)
                        total = body["total"]
                    ms = [1000 * s for s in server_times]
                    print(
                        f"{name:36} {total:>8,} {statistics.median(ms):>11.1f} ms {p95(ms):>5.1f} ms"
                        f" {1000 * p95(trips):>12.1f} ms"
                    )
        finally:
            await runner.cleanup()
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.runs))
