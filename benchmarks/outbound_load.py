"""Benchmark 4(a): a digest pass to 3,000 streamers while 1,000 users search and press buttons.

    .venv/bin/python benchmarks/outbound_load.py [--streamers 3000] [--users 1000]
        [--search-rate 5 | --burst] [--runs 1]

Everything is the bot's own: `build_bot` with the outbound limiter (DIGEST_RATE 25/s, one budget
for replies and digests), the real dispatcher and handlers long-polling the fake Bot API, the real
digest pass (`run_digest_pass`) on the same Bot, over a seeded SQLite database. The fake server
enforces Telegram's limits: 30 messages/s per bot, 1/s per chat (answering 429 past them).

Each user sends one search and, once the results arrive, presses the first result (the card is an
edit of the message: a second paced message). Searches arrive at `--search-rate` per second from the
moment the pass starts (default 5/s: 1,000 users over ~200 s, about as long as the pass, as when
streamers react to the digest they just got), or all within one second with `--burst`. At 25
messages/s a burst of 1,000 searches needs 40 s of budget for the replies alone: no limiter can
answer them all within 2 s, and the figures say so.

Prints: replies lost (target 0) and error replies, reply latency p50/p95 for searches and button
presses made during the pass (target p95 <= 2 s), digests sent once (0 duplicates, 0 lost) and the
organic 429s the server answered (target 0).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.digest_throughput import CATEGORIES, DAY, FIRST_ID, seed  # noqa: E402
from bot.dispatcher import build_dispatcher  # noqa: E402
from bot.i18n import t  # noqa: E402
from bot.runtime import polling_options  # noqa: E402
from bot.services import Services, build_bot, build_catalog_index, make_sender, outbound_limiter  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.policy import default_policy  # noqa: E402
from jobs.digest import run_digest_pass  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402

TOKEN = "123456:BENCHMARK-TOKEN-outbound-load"
FIRST_USER = 90_000_000
SORRY = t("error.internal", "zh")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_run(args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="xuanpin-load-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    engine = make_engine(url)
    await seed(engine, args.streamers, random.Random(7))
    sessionmaker = make_sessionmaker(engine)
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    catalog = build_catalog_index()
    await catalog.refresh(sessionmaker)
    services = Services(
        settings=settings, sessionmaker=sessionmaker, policy=default_policy(), catalog=catalog
    )
    users = [FIRST_USER + i for i in range(args.users)]
    rng = random.Random(11)
    searched: dict[int, float] = {}  # user -> when the search was queued
    pressed: dict[int, float] = {}  # user -> when the button press was queued
    pass_window = [float("inf"), float("inf")]
    skipped: list[int] = []

    async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as api:
        limiter = outbound_limiter(settings)
        bot = build_bot(TOKEN, api_url=api.base_url, limiter=limiter)
        dp = build_dispatcher(services)
        # As `python -m bot run` polls: a bounded number of handlers in flight.
        polling = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1, **polling_options(dp))
        )

        async def search() -> None:
            gap = 0.0 if args.burst else 1.0 / args.search_rate
            started = time.monotonic()
            for n, user in enumerate(users):
                if args.burst:  # all within one second
                    due = started + n / len(users)
                else:
                    due = started + n * gap
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                searched[user] = time.monotonic()
                api.message(user, rng.choice(CATEGORIES))

        async def press() -> None:
            seen = 0
            while len(pressed) < len(users):
                await asyncio.sleep(0.05)
                calls = api.calls[seen:]
                seen += len(calls)
                for call in calls:
                    if call.method != "sendMessage" or not call.ok:
                        continue
                    user = int(call.chat_id)
                    if user in searched and user not in pressed:
                        markup = call.params.get("reply_markup") or {}
                        rows = markup.get("inline_keyboard") or [[]]
                        data = rows[0][0].get("callback_data") if rows[0] else None
                        pressed[user] = time.monotonic()
                        if data:
                            api.callback(user, data, message_id=call.result["message_id"])

        async def digest() -> None:
            pass_window[0] = time.monotonic()
            report = await run_digest_pass(
                sessionmaker, settings, make_sender(bot, settings), bot=bot, on_date=DAY
            )
            pass_window[1] = time.monotonic()
            skipped.append(report.outcomes["skipped"])
            print("   ", report.summary())

        presser = asyncio.create_task(press())
        searcher = asyncio.create_task(search())
        await digest()
        await searcher
        try:  # the last replies after the pass: give them a minute
            await asyncio.wait_for(asyncio.shield(presser), 60)
            await asyncio.sleep(3)  # the last button presses' edits
        except TimeoutError:
            presser.cancel()
        await dp.stop_polling()
        await asyncio.wait_for(polling, 10)
        await bot.session.close()
        await limiter.close()
        calls = list(api.calls)
        organic = api.organic_429s
    await engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)

    first_reply: dict[int, float] = {}
    first_edit: dict[int, float] = {}
    sorry = 0
    digests: Counter[int] = Counter()
    for call in calls:
        if not call.ok or call.chat_id is None:
            continue
        chat = int(call.chat_id)
        if call.method == "sendMessage" and chat >= FIRST_USER:
            first_reply.setdefault(chat, call.at)
            sorry += SORRY in call.params.get("text", "")
        elif call.method == "editMessageText" and chat >= FIRST_USER:
            first_edit.setdefault(chat, call.at)
        elif call.method == "sendMessage" and chat >= FIRST_ID:
            digests[chat] += 1
    start, end = pass_window
    during = [first_reply[u] - searched[u] for u in first_reply if start <= searched[u] <= end]
    presses = [first_edit[u] - pressed[u] for u in first_edit if u in pressed and start <= pressed[u] <= end]
    all_replies = [first_reply[u] - searched[u] for u in first_reply]
    return {
        "lost": len(set(users) - set(first_reply)),
        "sorry": sorry,
        "during": len(during),
        "p50": pct(during, 0.5),
        "p95": pct(during, 0.95),
        "press_p50": pct(presses, 0.5),
        "press_p95": pct(presses, 0.95),
        "all_p95": pct(all_replies, 0.95),
        "digest_dupes": sum(n - 1 for n in digests.values() if n > 1),
        "digest_got": len(digests),
        "digest_lost": args.streamers - sum(skipped) - len(digests),
        "organic": organic,
        "pass_s": end - start,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamers", type=int, default=3000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--search-rate", type=float, default=5.0)
    parser.add_argument("--burst", action="store_true", help="all searches within one second")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    arrival = "all within 1 s" if args.burst else f"{args.search_rate:g}/s"
    results = []
    for n in range(args.runs):
        r = await one_run(args)
        results.append(r)
        print(
            f"run {n + 1}: searches {arrival}; replies lost {r['lost']}, error replies {r['sorry']}; "
            f"search reply p50 {r['p50']:.2f}s p95 {r['p95']:.2f}s ({r['during']} during the "
            f"{r['pass_s']:.0f}s pass; p95 over all {r['all_p95']:.2f}s); button press p50 "
            f"{r['press_p50']:.2f}s p95 {r['press_p95']:.2f}s; digests to {r['digest_got']} streamers, "
            f"duplicates {r['digest_dupes']}, lost {r['digest_lost']}; organic 429s {r['organic']}"
        )
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"median of {len(results)}: replies lost {med['lost']:g}, reply p50 {med['p50']:.2f}s "
        f"p95 {med['p95']:.2f}s (target <= 2 s), press p95 {med['press_p95']:.2f}s, digest duplicates "
        f"{med['digest_dupes']:g}, digests lost {med['digest_lost']:g}, organic 429s {med['organic']:g}"
    )
    ok = med["lost"] == 0 and med["sorry"] == 0 and med["digest_dupes"] == 0 and med["digest_lost"] == 0
    ok = ok and med["organic"] == 0
    ok = ok and med["p95"] <= 2.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
