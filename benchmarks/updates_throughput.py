"""Updates per second, per process: the real bot against a bare aiogram echo bot, on the same fake server.

    .venv/bin/python benchmarks/updates_throughput.py [--updates 5000] [--runs 3] [--only echo,postgres]
    .venv/bin/python benchmarks/updates_throughput.py --only postgres --runs 1 --profile /tmp/bot.html

The fake Bot API (tests/fakes/bot_api.py) runs in its own process, with NO rate limit: this measures
what one bot process can handle, not Telegram's pace. Each run gets a fresh server holding N queued
updates (searches typed by many users, plus a share of button presses: next page, open a card), and
one bot long-polls it until all N are handled (the real bot's outbound path is on, with a budget that
never binds):

- echo: a bare aiogram bot (Dispatcher, one router) replying to a text with the text and answering
  a button press;
- the real bot: `bot.dispatcher.build_dispatcher` with every handler and the DB middleware, polling
  as `bot.runtime` polls, on the seeded demo database (bot/seed.py), on SQLite and on PostgreSQL
  (a database of its own on 127.0.0.1:5432, created and dropped here; `--postgres` to change).

The clock runs from the start of polling to the end of the last update's handling. The kinds run
back to back in each round (the machine is shared: only runs made close together compare), and
each figure is the median of `--runs` rounds. Target: real bot on PostgreSQL >= 0.5x echo.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.client.session.aiohttp import AiohttpSession  # noqa: E402
from aiogram.client.telegram import TelegramAPIServer  # noqa: E402
from aiogram.types import CallbackQuery, Message  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.dispatcher import build_dispatcher  # noqa: E402
from bot.i18n import t  # noqa: E402
from bot.outbound import Budget, LocalLimiter  # noqa: E402
from bot.runtime import polling_options, settle_heap, unsettle_heap  # noqa: E402
from bot.seed import seed_demo  # noqa: E402
from bot.services import Services, build_bot, build_catalog_index, policy_for  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.search import QUERY_MARK, SearchOpen, SearchPage, query_key  # noqa: E402
from storage.catalog import load_catalog_items  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.users import FactsReader  # noqa: E402

TOKEN = "123456:BENCH"
FIRST_USER = 20_000_000
EVAL = Path(__file__).with_name("search_eval.jsonl")

# --------------------------------------------------------------------------- the updates


def update_specs(n: int, users: int, presses: float, product_ids: list[int], seed: int = 11) -> list[tuple]:
    """N updates as plain tuples (they cross to the server process): ("msg", user, text) or
    ("cb", user, callback_data, the text of the pressed message)."""
    rng = random.Random(seed)
    queries = [json.loads(line)["query"] for line in EVAL.read_text(encoding="utf-8").splitlines()]
    specs: list[tuple] = []
    for _ in range(n):
        user = FIRST_USER + rng.randrange(users)
        query = rng.choice(queries)
        if rng.random() >= presses:
            specs.append(("msg", user, query))
            continue
        key = query_key(" ".join(query.split()))
        pressed = f"🔎 {query}\n…\n{QUERY_MARK}{query}"  # a results message: its query line lets it page
        if rng.random() < 0.5:
            data = SearchPage(q=key, p=1).pack()
        else:
            data = SearchOpen(id=rng.choice(product_ids), q=key, p=0).pack()
        specs.append(("cb", user, data, pressed))
    return specs


# --------------------------------------------------------------------------- the server process


def serve(conn, specs: list[tuple], errors: list[str]) -> None:
    """The child process: a fresh fake Bot API with the updates queued; tells the parent its address,
    then, when told to stop, what it was asked (calls by method, failures, error replies)."""
    asyncio.run(_serve(conn, specs, errors))


async def _serve(conn, specs: list[tuple], errors: list[str]) -> None:
    from tests.fakes import FakeBotAPI

    async with FakeBotAPI() as api:  # no rate limit, no per-chat interval: measure the bot, not Telegram
        for spec in specs:
            if spec[0] == "msg":
                api.message(spec[1], spec[2])
            else:
                update = api.callback(spec[1], spec[2])
                update["callback_query"]["message"]["text"] = spec[3]  # the same dict the server edits
        conn.send(api.base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        methods = Counter(c.method for c in api.calls if c.ok)
        failed = Counter(f"{c.method}:{c.status}" for c in api.calls if not c.ok)
        said = [str(c.params.get("text", "")) for c in api.calls]
        conn.send(
            {
                "ok": dict(methods),
                "failed": dict(failed),
                "error_replies": sum(1 for s in said if s in errors),
                "left": len(api.updates),
            }
        )


class Server:
    """The fake Bot API in a child process, for one run."""

    def __init__(self, specs: list[tuple], errors: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, specs, errors), daemon=True)

    def __enter__(self) -> str:
        self._proc.start()
        return self._conn.recv()

    def stop(self) -> dict[str, Any]:
        self._conn.send("stop")
        summary = self._conn.recv()
        self._proc.join(10)
        return summary

    def __exit__(self, *exc: object) -> None:
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()


# --------------------------------------------------------------------------- the bots


def echo_dispatcher() -> Dispatcher:
    router = Router(name="echo")

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    @router.callback_query()
    async def pressed(callback: CallbackQuery) -> None:
        await callback.answer()

    dp = Dispatcher()
    dp.include_router(router)
    return dp


def counted(dp: Dispatcher, n: int) -> asyncio.Event:
    """An event set once `n` updates have been handled (the handler, the middleware and its commit)."""
    done = asyncio.Event()
    handled = 0
    process = dp._process_update

    async def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal handled
        try:
            return await process(*args, **kwargs)
        finally:
            handled += 1
            if handled >= n:
                done.set()

    dp._process_update = counting  # type: ignore[method-assign]
    return done


async def poll_until_done(
    dp: Dispatcher, bot: Bot, n: int, *, profile: str | None = None
) -> tuple[float, float]:
    """Seconds from the start of polling to the end of the n-th update: wall clock, and this process's
    CPU time (steadier than the wall clock on a loaded machine)."""
    done = counted(dp, n)
    profiler = cprofiler = None
    if profile and profile.endswith(".prof"):  # cProfile: deterministic CPU, for pstats
        import cProfile

        cprofiler = cProfile.Profile()
        cprofiler.enable()
    elif profile:
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="disabled")
        profiler.start()
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, **polling_options(dp)))
    try:
        async with asyncio.timeout(600):
            await done.wait()
    finally:
        elapsed = time.perf_counter() - started, time.process_time() - cpu
        if cprofiler is not None:
            cprofiler.disable()
            cprofiler.dump_stats(profile)
        if profiler is not None:
            profiler.stop()
            html = profiler.output_html()
            await asyncio.to_thread(Path(profile).write_text, html)  # type: ignore[arg-type]
            print(profiler.output_text(unicode=True, color=False, show_all=False)[:12000])
        await dp.stop_polling()
        await asyncio.wait_for(task, 30)
    return elapsed


async def run_echo(url: str, n: int) -> tuple[float, float]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(url)))
    try:
        return await poll_until_done(echo_dispatcher(), bot, n)
    finally:
        await bot.session.close()


async def run_real(url: str, n: int, database_url: str, profile: str | None) -> tuple[float, float]:
    """As `bot.runtime.run_bot` builds it (less the scheduler and the command menu), with the outbound
    path (bot/outbound.py) in place but given an unbounded budget: this measures handling, not pacing."""
    settings = Settings(database_url=database_url, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        catalog = build_catalog_index()
        await catalog.refresh(sessionmaker)
        services = Services(
            settings=settings,
            sessionmaker=sessionmaker,
            policy=policy_for(settings),
            catalog=catalog,
            facts_reader=FactsReader.for_engine(engine),  # as run_bot reads each update's user
        )
        # The outbound path stays on, with a budget that never binds: the server has no limit either.
        unbound = Budget(rate=1e9, burst=1e9, reserve=0.0, chat_interval=0.0, group_interval=0.0)
        bot = build_bot(TOKEN, api_url=url, limiter=LocalLimiter(unbound))
        dp = build_dispatcher(services)
        settle_heap()  # as run_bot does once started
        try:
            return await poll_until_done(dp, bot, n, profile=profile)
        finally:
            unsettle_heap()  # as run_bot does when it stops: the echo must not inherit a frozen heap
            await services.cancel_jobs()
            await bot.session.close()
            if services.facts_reader is not None:
                await services.facts_reader.close()
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- databases


async def prepare(database_url: str) -> list[int]:
    """Migrate and seed the demo catalog; returns the ids of products a press may open."""
    await upgrade(database_url)
    engine = make_engine(database_url)
    try:
        sessionmaker = make_sessionmaker(engine)
        products, streamers = await seed_demo(sessionmaker)
        async with sessionmaker() as session:
            items = await load_catalog_items(session=session)
        print(f"  seeded {products} products, {streamers} streamer rows")
        return [i.id for i in items if i.tier != "L0" and not i.counterfeit]
    finally:
        await engine.dispose()


async def create_pg(admin_url: str, name: str) -> str:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_pg(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--users", type=int, default=1000, help="distinct users sending them")
    parser.add_argument("--presses", type=float, default=0.2, help="share of button presses")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="echo,sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--profile", help="profile the last real-bot run: pyinstrument HTML here, or cProfile stats if *.prof"
    )
    args = parser.parse_args()
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    return asyncio.run(_main(args, kinds))


async def _main(args: argparse.Namespace, kinds: list[str]) -> int:
    folder = Path(tempfile.mkdtemp(prefix="xuanpin-updates-"))
    pg_name = f"xuanpin_bench_updates_{int(time.time())}"
    urls: dict[str, str] = {}
    errors = sorted({t("error.internal", lang) for lang in ("zh", "en")})
    print(
        f"{args.updates} updates from {args.users} users, {args.presses:.0%} button presses; "
        "fake Bot API in its own process, NO rate limit (this measures the bot, not Telegram's pace)"
    )
    try:
        product_ids: list[int] = []
        if "sqlite" in kinds:
            print("preparing SQLite")
            urls["sqlite"] = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
            product_ids = await prepare(urls["sqlite"])
        if "postgres" in kinds:
            print("preparing PostgreSQL")
            urls["postgres"] = await create_pg(args.postgres, pg_name)
            product_ids = await prepare(urls["postgres"])
        if not product_ids:
            product_ids = [1]
        specs = update_specs(args.updates, args.users, args.presses, product_ids)
        rates: dict[str, list[float]] = {k: [] for k in kinds}
        per_cpu: dict[str, list[float]] = {k: [] for k in kinds}
        for round_ in range(1, args.runs + 1):
            for kind in kinds:
                server = Server(specs, errors)
                with server as url:
                    if kind == "echo":
                        seconds = await run_echo(url, args.updates)
                    else:
                        profile = args.profile if round_ == args.runs and kind == kinds[-1] else None
                        seconds = await run_real(url, args.updates, urls[kind], profile)
                    summary = server.stop()
                wall, cpu = seconds
                rates[kind].append(args.updates / wall)
                per_cpu[kind].append(args.updates / cpu)
                print(
                    f"  round {round_} {kind:<8} {args.updates / wall:7.0f} updates/s ({wall:.1f}s wall),"
                    f" {args.updates / cpu:6.0f} per CPU-second; server saw {summary}"
                )
        print(f"\nmedian of {args.runs}, updates/s per process (and per CPU-second of the bot process):")
        medians = {k: statistics.median(v) for k, v in rates.items()}
        cpu_medians = {k: statistics.median(v) for k, v in per_cpu.items()}
        for kind, rate in medians.items():
            ratio = ""
            if "echo" in medians and kind != "echo":
                ratio = (
                    f"  {rate / medians['echo']:.2f}x echo ({cpu_medians[kind] / cpu_medians['echo']:.2f}x)"
                )
            print(f"  {kind:<8} {rate:7.0f} ({cpu_medians[kind]:6.0f}/CPU-s){ratio}")
        if "echo" in medians and "postgres" in medians:
            ok = medians["postgres"] >= 0.5 * medians["echo"]
            print(f"target: PostgreSQL >= 0.5x echo: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        if "postgres" in urls:
            await drop_pg(args.postgres, pg_name)


if __name__ == "__main__":
    sys.exit(main())
