"""Throughput of the outbound Sender against a fake Bot API that enforces Telegram's limits.

    .venv/bin/python benchmarks/sender_throughput.py            # 3,000 messages to 3,000 chats
    .venv/bin/python benchmarks/sender_throughput.py --quick    # 300 messages
    .venv/bin/python benchmarks/sender_throughput.py --faults   # plus a 429, a 502 and a dropped connection

Everything runs on 127.0.0.1. Targets: achieved rate >= 95% of the configured rate, no duplicates, no lost
messages, no 429 other than injected ones. With --faults the rate is also shown without the injected
retry_after pause, which by design stops every worker; the target is judged on that figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jobs.sender import Outcome, Outgoing, Sender  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402

TARGET = 0.95


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000, help="messages, one chat each (default 3000)")
    parser.add_argument("--quick", action="store_true", help="300 messages")
    parser.add_argument("--rate", type=float, default=30.0, help="sender rate per second (default 30)")
    parser.add_argument(
        "--server-rate", type=float, default=30.0, help="limit the fake enforces (default 30)"
    )
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--faults", action="store_true", help="inject a 429 (retry_after=1), a 502 and a drop"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the sender's info lines")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages = 300
    return args


async def run(args: argparse.Namespace) -> bool:
    n = args.messages
    outs = [Outgoing(chat_id=10_000 + i, text=f"<b>今日精选</b> #{i}", key=i) for i in range(n)]
    pause = 0.0
    async with FakeBotAPI(rate_limit_per_second=args.server_rate, per_chat_interval=1.0) as api:
        if args.faults:
            api.fail("sendMessage", 429, retry_after=1, chat_id=outs[n // 3].chat_id)
            api.fail("sendMessage", 502, chat_id=outs[n // 2].chat_id)
            api.drop("sendMessage", chat_id=outs[2 * n // 3].chat_id)
            pause = 1.0
        async with api.make_bot() as bot:
            sender = Sender(bot, rate_per_second=args.rate, workers=args.workers, backoff_base=0.2)
            started = time.monotonic()
            deliveries = await sender.send_many(outs)
            elapsed = time.monotonic() - started

    received = Counter(c.chat_id for c in api.sent())
    duplicates = sum(count - 1 for count in received.values() if count > 1)
    lost = sum(1 for out in outs if received[out.chat_id] == 0)
    reported = Counter(d.outgoing.key for d in deliveries)
    outcomes = Counter(d.outcome for d in deliveries)
    arrivals = sorted(c.at for c in api.sent())
    busiest = max((_count_within(arrivals, i, 1.0) for i in range(len(arrivals))), default=0)

    rate = n / elapsed
    share = rate / args.rate
    paced_share = n / max(elapsed - pause, 1e-9) / args.rate
    judged = paced_share if args.faults else share
    ok = (
        judged >= TARGET
        and duplicates == 0
        and lost == 0
        and api.organic_429s == 0
        and len(reported) == n
        and all(count == 1 for count in reported.values())
    )

    print(f"messages:        {n} to {n} chats, {args.workers} workers")
    print(
        f"sender rate:     {args.rate:g}/s; fake server enforces {args.server_rate:g}/s and 1 msg/s per chat"
    )
    print(f"elapsed:         {elapsed:.2f} s")
    print(f"achieved rate:   {rate:.2f} msg/s = {share:.1%} of configured")
    if args.faults:
        print(f"without pause:   {paced_share:.1%} of configured (injected retry_after pause of {pause:g} s)")
    print(f"busiest second:  {busiest} messages")
    print(f"duplicates:      {duplicates}")
    print(f"lost:            {lost}")
    print(f"organic 429s:    {api.organic_429s}")
    print(f"injected faults: {api.injected_faults} ({api.injected_429s} of them 429)")
    print("outcomes:        " + ", ".join(f"{o.value} {outcomes[o]}" for o in Outcome))
    print(f"deliveries:      {len(deliveries)} reported, {sum(1 for c in reported.values() if c > 1)} twice")
    print(f"result:          {'PASS' if ok else 'FAIL'} (target >= {TARGET:.0%} of configured rate)")
    return ok


def _count_within(arrivals: list[float], start: int, window: float) -> int:
    end = start
    while end < len(arrivals) and arrivals[end] - arrivals[start] <= window:
        end += 1
    return end - start


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    return 0 if asyncio.run(run(args)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
