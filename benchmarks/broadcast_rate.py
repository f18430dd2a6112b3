"""Benchmark 4(d): paid broadcast at 1,000 messages/s — what a digest pass on PostgreSQL sustains.

    .venv/bin/python benchmarks/broadcast_rate.py [--digests 6000] [--processes 1|2] [--runs 3]

The fake Bot API server (in this process) allows 1,000 messages/s overall and 1/s per chat. The
database (created and dropped here, on TEST_POSTGRES_URL's server) holds `--digests` streamers.
Each pass runs in its own child process as the bot runs it: `build_bot` with the outbound limiter at
DIGEST_RATE=1000 with DIGEST_PAID_BROADCAST=true, the real `run_digest_pass` (claims, picks, wire
guard, outcomes). With two processes they share the budget in Redis (TEST_REDIS_URL, a key prefix of
their own) and split the rows between them through the database claims.

Prints the sustained rate (messages delivered / first-to-last arrival), duplicates, lost digests
and organic 429s, the median over `--runs`. Targets: >= 500/s from one process, >= 900/s from two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.digest_throughput import FIRST_ID, seed  # noqa: E402
from storage.engine import make_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402

DAY = date(2026, 11, 24)
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
TOKEN = "123456:BENCHMARK-TOKEN-broadcast-rate"


def _dsn(url: str, database: str) -> str:
    return make_url(url).set(database=database, drivername="postgresql").render_as_string(hide_password=False)


async def child(db_url: str, api_url: str, redis_url: str | None, prefix: str) -> None:
    """One replica's digest pass (`--child`): the bot's own composition, nothing benchmark-specific."""
    from bot import outbound
    from bot.runtime import settle_heap
    from bot.services import build_bot, make_sender
    from bot.settings import Settings
    from jobs.digest import run_digest_pass
    from storage.engine import make_sessionmaker

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=db_url,
        telegram_api_url=api_url,
        redis_url=redis_url,
        digest_rate=1000,
        digest_paid_broadcast=True,
    )
    limiter = outbound.build_limiter(
        settings.digest_rate, settings.redis_url, prefix=prefix, paid=settings.digest_paid_broadcast
    )
    bot = build_bot(TOKEN, api_url=api_url, limiter=limiter)
    engine = make_engine(db_url)
    try:
        sender = make_sender(bot, settings)
        settle_heap()  # as run_bot does once started: the pass runs in a bot whose start-up heap is frozen
        report = await run_digest_pass(make_sessionmaker(engine), settings, sender, bot=bot, on_date=DAY)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        summary = f"{report.summary()}; this process used {cpu:.1f}s of CPU"
        print(json.dumps({"summary": summary, "sent": report.outcomes["sent"]}), flush=True)
    finally:
        await bot.session.close()
        await limiter.close()
        await engine.dispose()


async def one_run(args: argparse.Namespace, pg: str, redis_url: str | None) -> dict[str, float]:
    name = f"xuanpin_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_dsn(pg, make_url(pg).database or "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(db_url)
        engine = make_engine(db_url)
        await seed(engine, args.digests, random.Random(7))
        await engine.dispose()
        prefix = f"bench:broadcast:{uuid.uuid4().hex}"
        async with FakeBotAPI(rate_limit_per_second=1000, per_chat_interval=1.0, burst_tolerance=0.25) as api:
            cmd = [
                sys.executable,
                *(["-m", "cProfile", "-o", os.environ["PROF"]] if os.environ.get("PROF") else []),
                __file__,
                "--child",
                db_url,
                api.base_url,
                redis_url or "",
                prefix,
            ]
            procs = [
                await asyncio.create_subprocess_exec(
                    *cmd, stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
                )
                for _ in range(args.processes)
            ]
            before = resource.getrusage(resource.RUSAGE_SELF)
            outputs = [await p.communicate() for p in procs]
            after = resource.getrusage(resource.RUSAGE_SELF)
            codes = [p.returncode for p in procs]
            delivered = api.sent()
            organic = api.organic_429s
        if any(codes):
            raise SystemExit(f"a child failed: {codes}")
        for out, _ in outputs:
            print("   ", json.loads(out.decode().strip().splitlines()[-1])["summary"])
        server_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"    the fake Bot API server used {server_cpu:.1f}s of CPU")
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    per_chat = Counter(int(c.chat_id) for c in delivered)
    arrivals = sorted(c.at for c in delivered)
    span = arrivals[-1] - arrivals[0]
    expected = {FIRST_ID + i for i in range(args.digests)}
    return {
        "rate": (len(arrivals) - 1) / span,
        "delivered": len(delivered),
        "span": span,
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "missing": len(expected - set(per_chat)),
        "organic_429s": organic,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=6000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    pg = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)
    redis_url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS) if args.processes > 1 else None
    results = []
    for n in range(args.runs):
        started = time.perf_counter()
        result = await one_run(args, pg, redis_url)
        results.append(result)
        print(
            f"run {n + 1}: {result['rate']:.0f} msg/s ({result['delivered']} in {result['span']:.1f}s), "
            f"duplicates {result['duplicates']}, missing {result['missing']}, "
            f"organic 429s {result['organic_429s']} [{time.perf_counter() - started:.0f}s with setup]"
        )
    rate = statistics.median(r["rate"] for r in results)
    target = 900 if args.processes > 1 else 500
    print(f"median sustained rate, {args.processes} process(es): {rate:.0f} msg/s (target >= {target}/s)")
    print("(missing counts streamers with nothing to pick, who get no digest by design)")
    ok = rate >= target and all(r["duplicates"] == 0 for r in results)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        db, api_url, redis, key_prefix = sys.argv[2:6]
        asyncio.run(child(db, api_url, redis or None, key_prefix))
    else:
        raise SystemExit(asyncio.run(main()))
