"""How fast a big catalog imports and grades, and how much memory it takes.

    .venv/bin/python benchmarks/import_speed.py [--n 100000] [--keep DIR]

Writes a CSV of N generated products, imports it into a fresh migrated SQLite file, then
re-imports the same file (every row already there and unchanged), then a copy with every
product's numbers nudged (every row an update, many tiers moving). Prints rows, seconds,
rows/s, CPU seconds (this process and its grading workers) and the process's peak RSS
(VmHWM) after each. Target: 100,000 rows in ≤ 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.import_report import error_list  # noqa: E402
from storage.engine import open_database  # noqa: E402
from storage.importer import import_products  # noqa: E402
from storage.migrate import upgrade_sync  # noqa: E402

COLUMNS = (
    "sku,title,brand,category,merchant,price,brand_authorized,brand_awareness,price_index,lowest_price_ratio,"
    "commission_rate,active_streamers_30d,shop_rating,refund_rate,dispute_rate,gmv_30d,conversion_rate,"
    "factory_verified,counterfeit_flag,image_url,tags,listed_at"
).split(",")
CATEGORIES = ("美妆个护", "食品饮料", "服饰鞋包", "家居日用", "数码家电", "母婴用品", "运动户外", "本地生活")
WORDS = ("牙膏", "面霜", "坚果", "卫衣", "收纳盒", "耳机", "奶粉", "跑鞋", "套餐", "口红", "保温杯", "纸巾")
TAGS = ("", "", "", "新品", "跨境", "官方补贴", "新品;跨境")


def write_catalog(path: Path, n: int, *, seed: int = 7, nudge: bool = False) -> None:
    """N plausible products; `nudge` shifts every product's numbers (same skus, same seed)."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(n):
            category = CATEGORIES[i % len(CATEGORIES)]
            brand = f"品牌{rng.randrange(2000):04d}"
            price_index = rng.uniform(0.6, 1.6)
            commission = rng.uniform(0.02, 0.4)
            if nudge:
                price_index *= 1.15
                commission *= 0.9
            writer.writerow(
                [
                    f"SKU{i:07d}",
                    f"{brand} {rng.choice(WORDS)} {i}",
                    brand,
                    category,
                    f"M{rng.randrange(3000):05d}",
                    f"{rng.uniform(5, 2000):.2f}",
                    int(rng.random() < 0.6),
                    rng.randrange(101),
                    f"{price_index:.3f}",
                    f"{rng.uniform(0.9, 1.4):.3f}",
                    f"{commission * 100:.1f}%" if i % 3 == 0 else f"{commission:.3f}",
                    rng.randrange(600),
                    f"{rng.uniform(3.5, 5):.2f}",
                    f"{rng.uniform(0, 0.2):.4f}",
                    f"{rng.uniform(0, 0.05):.4f}",
                    f"{rng.uniform(0, 5_000_000):.0f}",
                    f"{rng.uniform(0, 0.12):.4f}",
                    int(rng.random() < 0.4),
                    int(rng.random() < 0.01),
                    f"https://img.example.com/{i}.jpg" if i % 2 else "",
                    rng.choice(TAGS),
                    f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                ]
            )


def cpu_seconds() -> float:
    """CPU used so far by this process and its finished children (the grading workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def prepare(n: int, workdir: Path) -> tuple[str, Path, Path]:
    """The two CSV files and a fresh migrated SQLite database (Alembic runs its own event loop)."""
    catalog = workdir / "catalog.csv"
    nudged = workdir / "catalog-nudged.csv"
    started = time.perf_counter()
    write_catalog(catalog, n)
    write_catalog(nudged, n, nudge=True)
    size = catalog.stat().st_size / 1e6
    print(f"generated 2 × {n} rows ({size:.1f} MB each) in {time.perf_counter() - started:.1f} s")
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    upgrade_sync(url)
    # The machine is often shared: the load says how much of it this run had.
    print(f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"after setup: peak RSS {peak_rss_mb():.0f} MB")
    return url, catalog, nudged


async def run(url: str, catalog: Path, nudged: Path) -> None:
    async with open_database(url) as (_engine, sessionmaker):
        for label, path in (
            ("first import", catalog),
            ("same file again", catalog),
            ("every row changed", nudged),
        ):
            started, cpu = time.perf_counter(), cpu_seconds()
            report = await import_products(sessionmaker, path)
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            assert report.written and not report.errors, error_list(report, "en", limit=5)
            rate = report.rows_total / seconds
            print(
                f"{label:>18}: {report.rows_total} rows in {seconds:.2f} s = {rate:,.0f} rows/s"
                f" | new {report.inserted}, updated {report.updated}, unchanged {report.unchanged},"
                f" tier changes {len(report.tier_changes)}"
                f" | CPU {cpu:.1f} s | peak RSS {peak_rss_mb():.0f} MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000, help="products to generate (default 100000)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the files")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        (args.keep / "bench.db").unlink(missing_ok=True)
        asyncio.run(run(*prepare(args.n, args.keep)))
        return
    with tempfile.TemporaryDirectory(prefix="xuanpin-bench-") as tmp:
        asyncio.run(run(*prepare(args.n, Path(tmp))))


if __name__ == "__main__":
    main()
