"""Search speed: index build time, query latency percentiles and memory at catalog scale.

    .venv/bin/python benchmarks/search_speed.py --n 100000
    .venv/bin/python benchmarks/search_speed.py --n 1000000

The catalog comes from `benchmarks.catalog.generated_catalog(n)`; the queries are a few thousand of
every kind the evaluation set has (brand + product, typos, traditional, pinyin, initials,
partial words, brands, categories, homophones), a fifth of them with a filter riding along.
The baseline is a plain `rapidfuzz.process.extract(query, titles, scorer=WRatio, limit=5)` full
scan, timed on a small sample because it is slow. Targets: 100k → p50 <= 2 ms, p99 <= 5 ms,
build <= 2 s; 1M → p99 <= 25 ms, build <= 20 s, RSS <= 1 GB.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz, process  # noqa: E402

from benchmarks.catalog import generated_catalog  # noqa: E402
from benchmarks.make_search_eval import realistic_queries  # noqa: E402
from core.search import SearchIndex, search  # noqa: E402


def _status_mb(field: str) -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _pct(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="catalog size")
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--baseline-queries", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    t0 = time.perf_counter()
    items = list(generated_catalog(args.n, seed=args.seed))
    t_gen = time.perf_counter() - t0
    rss_items = _status_mb("VmRSS")
    print(f"catalog: {len(items):,} generated items in {t_gen:.2f} s (RSS {rss_items:.0f} MB)")

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    index = SearchIndex.build(items)
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"index build: {t_build:.2f} s wall, {c_build:.2f} s CPU, first build in the process "
        f"(loads OpenCC/pypinyin)  ({len(index.vocab):,} words, {len(index._terms):,} terms)  "
        f"RSS {_status_mb('VmRSS'):.0f} MB"
    )
    del index
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    index = SearchIndex.build(items)  # as a re-import rebuilds it
    t_build, c_build = time.perf_counter() - t0, time.process_time() - c0
    print(f"index rebuild: {t_build:.2f} s wall, {c_build:.2f} s CPU")

    queries = realistic_queries(items, args.queries, seed=args.seed + 10)
    for q in queries[:50]:  # warm caches (OpenCC, pypinyin, lru caches) before timing
        search(index, q, remember=False)
    gc.collect()
    gc.disable()  # time the engine, not a collector pause of the benchmark's own garbage
    times: list[float] = []
    cpu: list[float] = []
    totals = 0
    for q in queries:
        c0 = time.thread_time()
        t0 = time.perf_counter()
        result = search(index, q, limit=5, remember=False)  # the engine, not its memo of answers
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        totals += result.total
    gc.enable()
    ms = sorted(times)
    p50, p95, p99 = _pct(ms, 0.50), _pct(ms, 0.95), _pct(ms, 0.99)
    print(
        f"queries: {len(queries):,}  mean {statistics.fmean(ms):.3f} ms  p50 {p50:.3f} ms  "
        f"p95 {p95:.3f} ms  p99 {p99:.3f} ms  max {ms[-1]:.3f} ms  "
        f"(wall clock; mean total matches {totals / len(queries):,.0f})"
    )
    cs = sorted(cpu)
    print(
        f"  same, CPU time of the searching thread: p50 {_pct(cs, 0.5):.3f} ms  "
        f"p95 {_pct(cs, 0.95):.3f} ms  p99 {_pct(cs, 0.99):.3f} ms  "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    worst = sorted(zip(times, queries, strict=True), reverse=True)[:5]
    print("slowest: " + "; ".join(f"{q!r} {t:.1f} ms" for t, q in worst))

    titles = [it.title for it in items]
    sample = queries[:: max(1, len(queries) // args.baseline_queries)][: args.baseline_queries]
    t0 = time.perf_counter()
    for q in sample:
        process.extract(q, titles, scorer=fuzz.WRatio, limit=5)
    base_ms = (time.perf_counter() - t0) * 1000 / len(sample)
    print(
        f"baseline WRatio full scan: {base_ms:.1f} ms/query over {len(sample)} queries "
        f"= {base_ms / p50:.0f}x our p50"
    )

    hwm = _status_mb("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = _status_mb("VmRSS")
    print(f"memory: peak RSS (VmHWM) {hwm:.0f} MB, ru_maxrss {maxrss:.0f} MB, now {now:.0f} MB")
    if args.n >= 1_000_000:
        ok = p99 <= 25 and t_build <= 20 and hwm <= 1024
        print(f"targets at 1M (p99 <= 25 ms, build <= 20 s, RSS <= 1 GB): {'met' if ok else 'NOT met'}")
    else:
        ok = p50 <= 2 and p99 <= 5 and t_build <= 2
        print(f"targets at 100k (p50 <= 2 ms, p99 <= 5 ms, build <= 2 s): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
