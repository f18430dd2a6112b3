"""Does a push keep Telegram's pace, and what does planning it cost? N streamers on SQLite, the fake
Bot API server enforcing 30 messages/s overall and 1/s per chat (429 like Telegram when too fast).

    .venv/bin/python benchmarks/push_throughput.py [--streamers 2000] [--rate 25] [--repeat 5]

Prints the median time to plan a `gap=美妆个护` push (check the goods, compute every streamer's gaps,
count the segment) over --repeat runs, then sends it once through the real push pass (jobs.push) and
the shared Sender, and again (the same push: nothing new). Targets: pace >= 95% of the configured
rate, no duplicate, nobody in the segment missed, no 429 but injected, the rerun sends 0.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.digest_throughput import peak_rss_mb, seed  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=None, help="sender rate (default: DIGEST_RATE, 25)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bot.picks import picks_context
    from bot.push import plan_push
    from bot.services import make_sender
    from core.push import Audience, Segment
    from jobs.push import run_push
    from storage.catalog import get_product

    folder = Path(tempfile.mkdtemp(prefix="xuanpin-bench-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    settings_kw = {"database_url": url, "_env_file": None}
    if args.rate is not None:
        settings_kw["digest_rate"] = args.rate
    settings = Settings(**settings_kw)  # type: ignore[arg-type]
    await seed(engine, args.streamers, random.Random(7))
    async with sessionmaker() as session:  # the first three L4+ goods of 美妆个护 (every 8th product)
        tiers = {
            sku: await get_product(sku, session=session) for sku in (f"B-{n:05d}" for n in range(0, 320, 8))
        }
    skus = [sku for sku, record in tiers.items() if record is not None and record.item.tier in {"L4", "L5"}][
        :3
    ]
    segment = Segment(Audience.GAP, "美妆个护")
    context = await picks_context(sessionmaker)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        async with sessionmaker() as session:
            plan = await plan_push(session, context, skus, segment, created_by=None)
            await session.commit()
        times.append(time.perf_counter() - started)
    print(f"plan a gap push over {args.streamers} streamers: median {statistics.median(times) * 1000:.0f} ms "
          f"({args.repeat} runs); segment {plan.recipients}")  # fmt: skip

    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as api:
        async with api.make_bot() as bot:
            sender = make_sender(bot, settings)
            started = time.perf_counter()
            first = await run_push(sessionmaker, settings, sender, plan.push.id, bot=bot)
            wall = time.perf_counter() - started
            second = await run_push(sessionmaker, settings, sender, plan.push.id, bot=bot)
        delivered = api.sent()
        per_chat = Counter(int(c.chat_id) for c in delivered)
        arrivals = sorted(c.at for c in delivered)
    await engine.dispose()
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    pace = (len(arrivals) - 1) / span if span == span and span else float("nan")
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    print(f"recipients       {first.recipients}; sent {first.sent} in {wall:.1f}s; rerun sent {second.sent}")
    print(
        f"sustained rate   {pace:.2f} msg/s vs configured {settings.digest_rate:g}"
        f" = {pace / settings.digest_rate:.1%}"
    )
    print(f"duplicates       {duplicates}; 429 answered {api.organic_429s}")
    print(f"peak RSS         {peak_rss_mb():.0f} MB")
    ok = (
        pace >= 0.95 * settings.digest_rate
        and duplicates == 0
        and first.sent == first.recipients == plan.recipients
        and second.sent == 0
        and api.organic_429s == 0
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
