"""How fast does a merchant with 10,000 products get the first page of /mygoods?

    .venv/bin/python benchmarks/mygoods_speed.py [--products 10000] [--others 40000] [--runs 30]
                                                 [--database postgresql+asyncpg://…]

Builds a migrated database (a temporary SQLite file unless --database is given; that database
must be empty and is filled), with one merchant owning --products goods spread over L0–L5 and
--others goods of 200 other merchants. Then it times, through the real dispatcher on a local bot
session (no network), a /mygoods command (counts per tier + the first page + its buttons), a
page turn deep into the list, and a one-tier filter. Prints the median and 95th percentile of each.
Target: the first page well under a second (it is a few milliseconds: two index-backed queries).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiogram.types import CallbackQuery, Chat, Message, Update  # noqa: E402
from aiogram.types import User as TgUser  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.dispatcher import build_dispatcher  # noqa: E402
from bot.keyboards import MyGoodsCb  # noqa: E402
from bot.local_session import LocalSession  # noqa: E402
from bot.services import Services, build_bot, build_catalog_index  # noqa: E402
from bot.settings import Settings  # noqa: E402
from core.catalog import TIERS  # noqa: E402
from core.policy import default_policy  # noqa: E402
from storage.engine import make_engine, make_sessionmaker  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Category, Merchant, Product, User  # noqa: E402

MERCHANT_USER = 20_001
CATEGORIES = ("美妆个护", "服饰内衣", "食品饮料", "家居百货", "母婴玩具", "数码家电", "鞋靴箱包", "运动户外")
TIER_FLOOR = {"L0": 20, "L1": 45, "L2": 55, "L3": 65, "L4": 75, "L5": 85}
BATCH = 2000


def product_row(i: int, merchant_id: int, rng: random.Random) -> dict:
    tier = rng.choices(TIERS, weights=(10, 15, 25, 25, 17, 8))[0]
    score = TIER_FLOOR[tier] + rng.random() * 9.9
    return {
        "sku": f"BM-{merchant_id}-{i:06d}",
        "title": f"商品 {i} 云南白药 牙膏 180g",
        "brand": "云南白药",
        "category_id": rng.randint(1, len(CATEGORIES)),
        "merchant_id": merchant_id,
        "price": 39.9,
        "brand_authorized": 1,
        "brand_awareness": 70.0,
        "price_index": 1.0,
        "lowest_price_ratio": 1.0,
        "commission_rate": 0.2,
        "active_streamers_30d": 30,
        "shop_rating": 4.8,
        "refund_rate": 0.02,
        "dispute_rate": 0.001,
        "gmv_30d": 500_000.0,
        "conversion_rate": 0.05,
        "factory_verified": 1,
        "counterfeit_flag": int(tier == "L0" and rng.random() < 0.05),
        "tags": "",
        "dim_brand": score,
        "dim_price": score,
        "dim_distribution": score,
        "dim_service": score,
        "dim_sales": score,
        "score": score,
        "tier": tier,
        "badges": "",
        "policy_version": "bench",
    }


async def fill(sessionmaker, products: int, others: int) -> int:
    """The catalog; returns the big merchant's id."""
    rng = random.Random(7)
    async with sessionmaker() as session:
        conn = await session.connection()
        await conn.execute(insert(Category), [{"name": name} for name in CATEGORIES])
        await conn.execute(
            insert(Merchant), [{"code": f"M{m:03d}", "name": f"商家{m:03d}"} for m in range(201)]
        )
        rows = [product_row(i, 1, rng) for i in range(products)]
        rows += [product_row(i, 2 + i % 200, rng) for i in range(others)]
        for start in range(0, len(rows), BATCH):
            await conn.execute(insert(Product), rows[start : start + BATCH])
        session.add(User(telegram_id=MERCHANT_USER, merchant_id=1, name="bench"))
        await session.commit()
    return 1


def timed(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(samples) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="mygoods-bench-") as folder:
        url = args.database or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await upgrade(url)
        engine = make_engine(url)
        sessionmaker = make_sessionmaker(engine)
        started = time.perf_counter()
        merchant_id = await fill(sessionmaker, args.products, args.others)
        print(
            f"catalog: {args.products} products of one merchant + {args.others} of others "
            f"({engine.dialect.name}, filled in {time.perf_counter() - started:.1f}s)"
        )

        settings = Settings(database_url=url, admin_ids=frozenset(), _env_file=None)
        services = Services(
            settings=settings,
            sessionmaker=sessionmaker,
            policy=default_policy(),
            catalog=build_catalog_index(),
        )
        session = LocalSession()
        bot = build_bot("42:BENCHMARK-TOKEN-NOT-USED-ANYWHERE", session=session)
        dp = build_dispatcher(services)
        user = TgUser(id=MERCHANT_USER, is_bot=False, first_name="bench", language_code="zh-hans")
        chat = Chat(id=MERCHANT_USER, type="private")
        ids = iter(range(1, 10**9))

        async def command() -> None:
            message = Message(
                message_id=next(ids), date=int(time.time()), chat=chat, from_user=user, text="/mygoods"
            )
            await dp.feed_update(bot, Update(update_id=next(ids), message=message))

        async def press(data: str) -> None:
            message = Message(message_id=1, date=int(time.time()), chat=chat, from_user=user, text="…")
            query = CallbackQuery(
                id=str(next(ids)), from_user=user, chat_instance="b", message=message, data=data
            )
            await dp.feed_update(bot, Update(update_id=next(ids), callback_query=query))

        deep = MyGoodsCb(merchant_id=merchant_id, page=args.products // 20, fresh=0).pack()
        one_tier = MyGoodsCb(merchant_id=merchant_id, tier="L3", page=3, fresh=0).pack()
        cases = {
            "first page (/mygoods)": command,
            "deep page turn": lambda: press(deep),
            "one tier, page 4": lambda: press(one_tier),
        }
        for name, run in cases.items():
            await run()  # warm the caches
            samples = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                await run()
                samples.append(time.perf_counter() - t0)
            print(f"{name}: {timed(samples)} over {args.runs} runs")
        first = session.of("SendMessage")[0].text
        assert f"共 {args.products} 个" in first, first[:200]
        await bot.session.close()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--database", help="an empty database URL (default: a temporary SQLite file)")
    asyncio.run(main(parser.parse_args()))
