"""Two replicas in webhook mode, sharing PostgreSQL and Redis, against the fake Bot API with Telegram's
limits on (30 messages/s overall, 1/s per chat): issue 9, measurement 4(b).

    TEST_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
    .venv/bin/python benchmarks/replicas.py [--digests 300] [--updates 200] [--repost 0.3]

Two `python -m bot run` processes listen on their own webhook ports. Each gets half of the `/start`
updates; a share (`--repost`) is posted again to the other replica, as Telegram re-posts after a
timeout. A digest pass runs in both at once (DIGEST_TIME 00:00 UTC: everyone is due); once a third of
the digests are out, replica 1 is SIGKILLed, and replica 2 must finish (rows claimed by the dead one
come back after the claim lease, 2 minutes). Prints: the highest number of accepted sends in any
1-second window (target <= 30), 429s, updates answered once / twice / never, digests once / twice /
never, and the rows left `sending` by the kill (their fate is unknown: never re-sent, by design).
A reply lost to a 429 shows as "never": the one outbound path with retries is issue 9's other part.
The combined budget across replicas comes from the shared Redis send budget (outbound path); without
it each replica paces itself and the window figure shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import select  # noqa: E402

from benchmarks.digest_throughput import FIRST_ID, seed  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import DigestDelivery  # noqa: E402
from tests.fakes import FakeBotAPI  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-token-for-the-fake-server-xx"
SECRET = "a-webhook-secret-of-32-characters"
FIRST_USER = 30_000_000
FINISH_TIMEOUT = 240.0
REPLY_MARK = "我是<b>选品助手</b>"  # the /start answer (bot/locales/common.toml start.streamer)
DIGEST_MARK = "每日选品推荐"  # the digest's title


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_window(times: list[float], width: float = 1.0) -> int:
    """The most events in any window of `width` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= width:
            start += 1
        best = max(best, end - start + 1)
    return best


async def create_database(admin_url: str) -> str:
    name = f"xuanpin_bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    dsn = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def start_replica(env: dict[str, str], port: int, log: Path) -> asyncio.subprocess.Process:
    env = dict(env, WEBHOOK_PORT=str(port))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=env, cwd=log.parent,
        stdout=asyncio.subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip


async def wait_ready(http: aiohttp.ClientSession, port: int, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60):
        while True:
            if proc.returncode is not None:
                raise SystemExit(f"replica on {port} exited with {proc.returncode}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


async def post(http: aiohttp.ClientSession, port: int, update: dict) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        async with http.post(f"http://127.0.0.1:{port}/webhook", json=update, headers=headers) as response:
            return response.status
    except aiohttp.ClientError:
        return 0  # the replica is gone (killed): Telegram would post it again elsewhere


async def digest_rows(sessionmaker) -> Counter[str]:
    return Counter((await digest_statuses(sessionmaker)).values())


async def digest_statuses(sessionmaker) -> dict[int, str]:
    """Each digest row's streamer and status: whom a digest was due to (a /start whose reply was
    lost to a 429 rolled back, so that user is not a streamer and is owed no digest)."""
    async with sessionmaker() as session:
        rows = (await session.exec(select(DigestDelivery))).all()
        return {int(r.telegram_id): r.status for r in rows}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=300)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--repost", type=float, default=0.3, help="share of updates posted to both replicas")
    args = parser.parse_args()
    admin_url = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    rng = random.Random(9)

    name = await create_database(admin_url)
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="xuanpin-replicas-"))
    procs: list[asyncio.subprocess.Process] = []
    try:
        await upgrade(url)
        engine = make_engine(url)
        sessionmaker = make_sessionmaker(engine)
        await seed(engine, args.digests, rng)
        async with FakeBotAPI(rate_limit_per_second=30, per_chat_interval=1.0) as api:
            env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
            env.update(
                PYTHONPATH=str(ROOT),
                BOT_TOKEN=TOKEN,
                TELEGRAM_API_URL=api.base_url,
                DATABASE_URL=url,
                REDIS_URL=redis_url,
                REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:8]}",
                WEBHOOK_URL="https://bench.example.test/webhook",
                WEBHOOK_SECRET=SECRET,
                WEBHOOK_HOST="127.0.0.1",
                DEFAULT_TIMEZONE="UTC",
                DIGEST_TIME="00:00",
                DIGEST_RATE="25",
            )
            ports = [free_port(), free_port()]
            procs = [
                await start_replica(env, port, folder / f"replica{i + 1}.log") for i, port in enumerate(ports)
            ]
            started = time.monotonic()
            async with aiohttp.ClientSession() as http:
                for port, proc in zip(ports, procs, strict=True):
                    await wait_ready(http, port, proc)
                users = [FIRST_USER + i for i in range(args.updates)]
                updates = [api.message(user, "/start") for user in users]
                reposted = set(rng.sample(range(len(updates)), int(len(updates) * args.repost)))

                async def deliver(i: int, update: dict) -> None:
                    await post(http, ports[i % 2], update)
                    if i in reposted:
                        await post(http, ports[(i + 1) % 2], update)

                await asyncio.gather(*(deliver(i, u) for i, u in enumerate(updates)))

                # Kill replica 1 once a third of the digests are out.
                digests = set(range(FIRST_ID, FIRST_ID + args.digests))
                async with asyncio.timeout(FINISH_TIMEOUT):
                    while sum(1 for c in api.sent() if c.chat_id in digests) < args.digests // 3:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                procs[0].send_signal(signal.SIGKILL)
                await procs[0].wait()
                killed_at = sum(1 for c in api.sent() if c.chat_id in digests)

                # Replica 2 finishes: every row sent, or left `sending` by the kill (never re-sent).
                async with asyncio.timeout(FINISH_TIMEOUT):
                    while True:
                        rows = await digest_rows(sessionmaker)
                        if rows and rows["pending"] == 0 and procs[1].returncode is None:
                            break
                        await asyncio.sleep(1.0)
                await asyncio.sleep(2.0)  # requests already on their way land
            wall = time.monotonic() - started
            sent = [c for c in api.calls if c.method == "sendMessage" and c.ok]
            # The /start users are streamers too (they get a digest as well): tell the two apart.
            replies = Counter(int(c.chat_id) for c in sent if REPLY_MARK in str(c.params.get("text")))
            digested = Counter(int(c.chat_id) for c in sent if DIGEST_MARK in str(c.params.get("text")))
            peak = peak_window(sorted(c.at for c in sent))
            statuses = await digest_statuses(sessionmaker)
            rows = Counter(statuses.values())
            organic_429 = api.organic_429s
        await engine.dispose()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
        await drop_database(admin_url, name)

    answered = Counter(min(replies.get(u, 0), 2) for u in users)
    told = Counter(min(digested.get(d, 0), 2) for d in statuses)
    unknown = sum(1 for d, status in statuses.items() if status == "sending" and not digested.get(d))
    print(f"two replicas, webhook mode, PostgreSQL + Redis; {wall:.1f}s wall")
    print(f"peak accepted sends in any 1 s window: {peak} (Telegram allows 30); 429s answered: {organic_429}")
    print(
        f"updates: {len(users)} users, {len(reposted)} re-posted to the other replica: answered once "
        f"{answered[1]}, twice or more {answered[2]}, never {answered[0]}"
    )
    print(
        f"digests: {len(statuses)} due ({args.digests} seeded + the /start users who got registered); "
        f"replica 1 SIGKILLed after {killed_at} seeded digests; delivered once {told[1]}, twice or more "
        f"{told[2]}, never {told[0]} ({unknown} of them left `sending` by the kill); rows {dict(rows)}"
    )
    print(f"replica logs: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
