"""How fast is a full digest pass of picks? Reference, gaps and picks for every streamer.

    .venv/bin/python benchmarks/picks_speed.py [--streamers 100000] [--products 100000]

Generates a synthetic platform (skewed category popularity, streamers selling 1-6 categories,
some with no data, some who only chose categories; products spread over L0-L5), then times:
building the peer index, all references (batch kNN), ranking the catalog, and gaps + picks for
every streamer. Also measures the kNN approximation against exact kNN on a sample (not timed).
Targets: <= 30 s and <= 2 GB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.catalog import TIERS, CatalogItem  # noqa: E402
from core.picks import (  # noqa: E402
    DEFAULT_POOL,
    Mix,
    PeerIndex,
    RankedCatalog,
    mix_from_choice,
    mix_from_sales,
    picks_for,
    platform_mix,
)
from core.policy import default_policy  # noqa: E402

CATEGORIES = (
    "美妆个护", "服饰内衣", "食品饮料", "家居百货", "母婴玩具", "数码家电", "鞋靴箱包",
    "运动户外", "珠宝配饰", "宠物用品", "生鲜水果", "酒水饮品", "图书文娱", "本地生活",
)  # fmt: skip
TIER_WEIGHTS = (0.10, 0.15, 0.25, 0.25, 0.17, 0.08)  # L0..L5


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def popularity(rng: np.random.Generator) -> np.ndarray:
    weights = 1 / np.arange(1, len(CATEGORIES) + 1) ** 0.9  # Zipf-like: beauty and apparel lead
    return weights / weights.sum()


def make_streamers(n: int, rng: np.random.Generator) -> tuple[dict[int, Mix], list[dict[str, float]]]:
    """Mixes by telegram id (empty: no data), and the raw sales behind them for the platform mix."""
    weights = popularity(rng)
    mixes: dict[int, Mix] = {}
    sales: list[dict[str, float]] = []
    kinds = rng.random(n)
    sizes = np.minimum(rng.geometric(0.45, size=n), 6)
    for i in range(n):
        telegram_id = 10_000_000 + i
        size = int(sizes[i])
        chosen = rng.choice(len(CATEGORIES), size=size, replace=False, p=weights)
        if kinds[i] < 0.05:  # started the bot, nothing imported, chose nothing
            mixes[telegram_id] = {}
        elif kinds[i] < 0.10:  # chose categories in /categories
            mixes[telegram_id] = mix_from_choice(CATEGORIES[c] for c in chosen)
        else:
            scale = float(rng.lognormal(11, 1.2))  # 30-day GMV, CNY
            amounts = rng.dirichlet(np.full(size, 0.8)) * scale
            gmv = {CATEGORIES[c]: float(a) for c, a in zip(chosen, amounts, strict=True)}
            sales.append(gmv)
            mixes[telegram_id] = mix_from_sales(gmv)
    return mixes, sales


def make_catalog(n: int, rng: np.random.Generator) -> list[CatalogItem]:
    categories = rng.choice(len(CATEGORIES), size=n, p=popularity(rng))
    tiers = rng.choice(len(TIERS), size=n, p=TIER_WEIGHTS)
    jitter = rng.random(n) * 10
    counterfeit = rng.random(n) < 0.01
    thresholds = default_policy().thresholds
    floors = (0.0, *(thresholds[t] for t in TIERS[1:]))  # the lowest score of each tier, L0..L5
    items = []
    for i in range(n):
        tier = int(tiers[i])
        items.append(
            CatalogItem(
                id=i + 1,
                sku=f"SKU{i:07d}",
                title=f"商品 {i}",
                brand=f"品牌{i % 997}",
                category=CATEGORIES[int(categories[i])],
                merchant=f"商家{i % 4999}",
                price=round(9.9 + (i % 500) * 1.7, 2),
                commission_rate=0.05 + (i % 30) / 100,
                tier="L0" if counterfeit[i] else TIERS[tier],
                score=round(min(100.0, floors[tier] + float(jitter[i])), 2),
                counterfeit=bool(counterfeit[i]),
            )
        )
    return items


def make_history(
    ids: list[int], catalog: list[CatalogItem], seed: int
) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """Recently sent and 不感兴趣 skus, drawn from each category's best goods so they bite."""
    ranked = RankedCatalog(catalog)
    best = [item.sku for items in ranked.values() for item in items[:30]]
    rnd = random.Random(seed)
    recent = {telegram_id: set(rnd.sample(best, rnd.randint(0, 10))) for telegram_id in ids}
    not_interested = {telegram_id: set(rnd.sample(best, rnd.randint(0, 3))) for telegram_id in ids}
    return recent, not_interested


def measure_recall(
    index: PeerIndex, mixes: dict[int, Mix], k: int, sample: int, seed: int
) -> tuple[float, float]:
    """Mean recall@k of the approximate peers, and mean L1 distance of the reference mix, vs exact kNN.

    Recall counts an approximate peer as right when it is at least as similar as the exact k-th
    nearest (many streamers have identical mixes, so ids alone would understate it).
    """
    categories = index.categories
    ids = [telegram_id for telegram_id, mix in mixes.items() if mix]
    matrix = np.array([[mixes[i].get(c, 0.0) for c in categories] for i in ids])
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    row_of = {telegram_id: row for row, telegram_id in enumerate(ids)}
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(ids), size=min(sample, len(ids)), replace=False)
    recalls, distances = [], []
    for row in rows.tolist():
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        exact = np.argpartition(similarity, -k)[-k:]
        kth = similarity[exact].min()
        peers = [row_of[peer] for peer in index.peers(ids[row], k=k)]
        recalls.append(sum(similarity[peer] >= kth - 1e-6 for peer in peers) / k)
        reference = index.reference(mixes[ids[row]], k=k, exclude=ids[row])
        approx_mix = np.array([reference.mix.get(c, 0.0) for c in categories])
        distances.append(float(np.abs(matrix[exact].mean(axis=0) - approx_mix).sum()))
    return float(np.mean(recalls)), float(np.mean(distances))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--pool", type=int, default=DEFAULT_POOL)
    parser.add_argument("--depth", type=int, default=2, help="top categories a streamer is a candidate under")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--recall-sample", type=int, default=500)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    mixes, sales = make_streamers(args.streamers, rng)
    catalog = make_catalog(args.products, rng)
    ids = list(mixes)
    recent, not_interested = make_history(ids, catalog, args.seed)
    print(
        f"generated {len(mixes):,} streamers ({sum(1 for m in mixes.values() if not m):,} without data), "
        f"{len(catalog):,} products over {len(CATEGORIES)} categories "
        f"in {time.perf_counter() - started:.1f} s (not timed)"
    )

    t0 = time.perf_counter()
    index = PeerIndex.build(mixes, CATEGORIES, platform=platform_mix(sales), pool=args.pool, depth=args.depth)
    t1 = time.perf_counter()
    references = index.references(ids, k=args.k)
    t2 = time.perf_counter()
    ranked = RankedCatalog(catalog)
    t3 = time.perf_counter()
    total_picks = short = empty = topped_up = 0
    for telegram_id, reference in zip(ids, references, strict=True):
        _, chosen = picks_for(
            mixes[telegram_id],
            reference,
            ranked,
            platform=index.platform,
            recent_skus=recent[telegram_id],
            not_interested=not_interested[telegram_id],
        )
        total_picks += len(chosen)
        short += len(chosen) < 5
        empty += not chosen
        topped_up += reference.source == "peers" and any(pick.source == "platform" for pick in chosen)
    t4 = time.perf_counter()
    timings = {
        "peer index build": t1 - t0,
        "references (batch kNN)": t2 - t1,
        "rank catalog": t3 - t2,
        "gaps + picks": t4 - t3,
    }
    total = t4 - t0

    for name, seconds in timings.items():
        print(f"  {name:<24}{seconds:8.2f} s")
    by_source = {"peers": 0, "platform": 0}
    for reference in references:
        by_source[reference.source] += 1
    print(
        f"references: {by_source['peers']:,} from peers, {by_source['platform']:,} from the platform; "
        f"biggest candidate block {max(index.block_sizes().values()):,} (pool {args.pool:,})"
    )
    print(
        f"picks: {total_picks:,} ({total_picks / len(ids):.2f} per streamer; {short:,} streamers got < 5, "
        f"{empty:,} got none; {topped_up:,} peer-referenced streamers topped up from the platform's gaps)"
    )
    print(f"TOTAL {total:.2f} s for {len(ids):,} streamers = {total / len(ids) * 1e6:.1f} µs per streamer")
    print(f"peak RSS (VmHWM) {peak_rss_mb():,.0f} MB")

    recall, distance = measure_recall(index, mixes, args.k, args.recall_sample, args.seed)
    print(
        f"kNN approximation on {args.recall_sample} sampled streamers vs exact kNN: "
        f"recall@{args.k} {recall:.3f}, mean L1 distance of reference mixes {distance:.4f}"
    )
    ok = total <= 30 and peak_rss_mb() <= 2048
    print("within budget (<= 30 s, <= 2 GB)" if ok else "OVER BUDGET")


if __name__ == "__main__":
    main()
