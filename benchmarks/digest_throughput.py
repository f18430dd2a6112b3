"""Does a digest pass keep Telegram's pace? 3,000 digests to the fake Bot API server, which enforces
30 messages/s overall and 1/s per chat (answering 429 like Telegram when a client is too fast).

    .venv/bin/python benchmarks/digest_throughput.py [--digests 3000] [--rate 25] [--inject-429]

The pass is the real one (jobs.digest.run_digest_pass: claims, picks, wire guard, one transaction per
row) over SQLite, through the real aiogram Bot and the shared Sender at the configured rate
(DIGEST_RATE, default 25/s). Prints the sustained rate against the configured one (target >= 95%),
duplicates and lost digests (target 0) and the 429s the server answered (target: none but injected).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from bot.settings import Settings  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Category, Merchant, Product, Streamer, StreamerSale, User, utcnow  # noqa: E402
from tests.factories import GOOD  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402

CATEGORIES = ("美妆个护", "服饰内衣", "食品饮料", "家居百货", "母婴玩具", "数码家电", "鞋靴箱包", "运动户外")
DAY = date(2026, 11, 24)
FIRST_ID = 10_000_000
INJECTED_RETRY_AFTER = 3


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def seed(engine, digests: int, rng: random.Random) -> None:
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(insert(Merchant).values(code="M1", name="Bench shop", created_at=now))
        await conn.execute(insert(Category), [{"name": c} for c in CATEGORIES])
        ids = {c: i + 1 for i, c in enumerate(CATEGORIES)}
        products = []
        for n in range(len(CATEGORIES) * 40):
            category = CATEGORIES[n % len(CATEGORIES)]
            tier = rng.choice(("L3", "L4", "L5"))
            products.append(
                dict(
                    GOOD,
                    sku=f"B-{n:05d}",
                    title=f"{category} 好物 {n}",
                    brand=f"品牌{n % 23}",
                    category_id=ids[category],
                    merchant_id=1,
                    price=round(rng.uniform(9, 399), 2),
                    tier=tier,
                    score={"L3": 70, "L4": 80, "L5": 90}[tier] + rng.random() * 5,
                    tags="",
                    badges="",
                    policy_version="bench",
                    updated_at=now,
                )  # fmt: skip
            )
        await conn.execute(insert(Product), products)
        users, streamers, sales = [], [], []
        for i in range(digests):
            telegram_id = FIRST_ID + i
            users.append(dict(telegram_id=telegram_id, name=f"s{i}", language="zh",
                              digest_enabled=True, active=True, chosen_categories="",
                              created_at=now, started_at=now))  # fmt: skip
            if i % 5:  # most have imported sales; every fifth gets platform picks
                streamers.append(dict(telegram_id=telegram_id, name=f"s{i}", updated_at=now))
                for category in rng.sample(CATEGORIES, rng.randint(1, 4)):
                    sales.append(dict(telegram_id=telegram_id, category_id=ids[category],
                                      gmv_30d=rng.lognormvariate(10, 1)))  # fmt: skip
        await conn.execute(insert(User), users)
        await conn.execute(insert(Streamer), streamers)
        await conn.execute(insert(StreamerSale), sales)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=None, help="sender rate (default: DIGEST_RATE, 25)")
    parser.add_argument("--server-rate", type=float, default=30.0, help="the fake server's global limit")
    parser.add_argument(
        "--inject-429", action="store_true", help="one 429 (retry_after=3) a third of the way in"
    )
    args = parser.parse_args()

    from bot.services import make_sender
    from jobs.digest import run_digest_pass

    folder = Path(tempfile.mkdtemp(prefix="xuanpin-bench-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    settings_kw = {"database_url": url, "_env_file": None}
    if args.rate is not None:
        settings_kw["digest_rate"] = args.rate
    settings = Settings(**settings_kw)  # type: ignore[arg-type]
    started = time.perf_counter()
    await seed(engine, args.digests, random.Random(7))
    print(f"seeded {args.digests} streamers in {time.perf_counter() - started:.1f}s")

    async with FakeBotAPI(rate_limit_per_second=args.server_rate, per_chat_interval=1.0) as api:
        if args.inject_429:
            api.fail(
                "sendMessage",
                429,
                retry_after=INJECTED_RETRY_AFTER,
                times=1,
                chat_id=FIRST_ID + args.digests // 3,
            )
        async with api.make_bot() as bot:
            sender = make_sender(bot, settings)
            started = time.perf_counter()
            report = await run_digest_pass(sessionmaker, settings, sender, bot=bot, on_date=DAY)
            wall = time.perf_counter() - started
        delivered = api.sent()
        per_chat = Counter(int(c.chat_id) for c in delivered)
        arrivals = sorted(c.at for c in delivered)
    await engine.dispose()

    expected = {FIRST_ID + i for i in range(args.digests)}
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    lost = len(expected - set(per_chat))
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else float("nan")
    sustained = (len(arrivals) - 1) / span if span and span == span else float("nan")
    configured = settings.digest_rate
    skipped = report.outcomes["skipped"]
    print(report.summary())
    print(f"delivered        {len(delivered)} of {args.digests} ({skipped} had nothing to pick)")
    print(f"wall time        {wall:.1f}s (first to last message {span:.1f}s)")
    # An injected 429 makes Telegram's pause mandatory: judge the pace over the time sending was allowed.
    mandated = INJECTED_RETRY_AFTER * api.injected_429s
    allowed = (len(arrivals) - 1) / (span - mandated) if span > mandated else float("nan")
    print(
        f"sustained rate   {sustained:.2f} msg/s vs configured {configured:g} msg/s "
        f"= {sustained / configured:.1%} (server limit {args.server_rate:g}/s)"
    )
    if mandated:
        print(
            f"  without the {mandated:g}s Telegram-mandated pause: {allowed:.2f} msg/s "
            f"= {allowed / configured:.1%}"
        )
    print(f"duplicates       {duplicates}")
    print(f"lost             {lost - skipped}")
    print(f"429 answered     {api.organic_429s} organic, {api.injected_429s} injected")
    print(f"peak RSS         {peak_rss_mb():.0f} MB")
    pace = allowed if mandated else sustained
    ok = pace >= 0.95 * configured and duplicates == 0 and lost - skipped == 0 and api.organic_429s == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
