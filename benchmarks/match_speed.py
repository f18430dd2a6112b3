"""How fast is /match, and what does a per-streamer commission override cost the picks?

    .venv/bin/python benchmarks/match_speed.py [--streamers 100000] [--discoverable 20000] [--runs 5]

On the synthetic platform of `picks_speed.py`: builds the peer index once, then times (median of
`--runs`) one /match over the discoverable streamers (their references in one kNN batch, the
sellers' mean mix, ranking), and gaps + picks for 10,000 streamers without and with exclusive rates
(three offered goods each).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.picks_speed import make_catalog, make_streamers  # noqa: E402
from core.match import Candidate, rank_candidates, seller_mix  # noqa: E402
from core.picks import PeerIndex, RankedCatalog, picks_for, platform_mix  # noqa: E402


def median_seconds(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streamers", type=int, default=100_000)
    parser.add_argument("--discoverable", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    mixes, sales = make_streamers(args.streamers, rng)
    with_sales = {tid: mix for tid, mix in mixes.items() if mix}
    platform = platform_mix(sales)
    peers = PeerIndex.build(with_sales, platform=platform)
    catalog = RankedCatalog(make_catalog(args.products, rng))
    category = "食品饮料"
    found = [tid for tid in with_sales if tid in peers][: args.discoverable]

    def one_match() -> None:
        references = peers.references(found)
        sellers = seller_mix(m for m in with_sales.values() if m.get(category, 0.0) > 0)
        candidates = [
            Candidate(tid, with_sales[tid], ref.mix, 100_000.0)
            for tid, ref in zip(found, references, strict=True)
        ]
        rank_candidates(candidates, category, sellers, limit=10)

    sample = found[:10_000]
    references = peers.references(sample)
    # Three offers each, on an L4+ item a little down the list of the platform's three biggest
    # categories (gaps for most streamers), so the promoted merge is really walked.
    top = sorted(platform, key=lambda c: -platform[c])[:3]
    overrides = {
        tid: {catalog[c][3 + tid % 5].sku: 0.5 for c in top if len(catalog[c]) > 8} for tid in sample
    }

    def picks(override: bool) -> None:
        for tid, ref in zip(sample, references, strict=True):
            picks_for(
                with_sales[tid],
                ref,
                catalog,
                platform=platform,
                commission=overrides[tid] if override else None,
            )

    match_s = median_seconds(args.runs, one_match)
    print(f"/match over {len(found):,} discoverable of {len(with_sales):,} streamers: {match_s:.3f} s")
    plain = median_seconds(args.runs, lambda: picks(False))
    exclusive = median_seconds(args.runs, lambda: picks(True))
    print(f"picks for {len(sample):,} streamers, public rates: {plain:.3f} s")
    print(f"picks for {len(sample):,} streamers, 3 exclusive rates each: {exclusive:.3f} s")
    carried = sum(
        pick.commission is not None
        for tid, ref in zip(sample, references, strict=True)
        for pick in picks_for(with_sales[tid], ref, catalog, platform=platform, commission=overrides[tid])[1]
    )
    print(f"(medians of {args.runs} runs; {carried:,} picks carried an exclusive rate)")


if __name__ == "__main__":
    main()
