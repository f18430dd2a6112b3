"""Search quality on the evaluation set: hit@1 and hit@5 per kind, ours beside plain WRatio.

    .venv/bin/python benchmarks/search_quality.py [--eval benchmarks/search_eval.jsonl] [--misses]

The catalog is the default demo catalog (`demo_products()`, graded). The baseline is plain
`rapidfuzz.process.extract(query, titles, scorer=WRatio, limit=5)` over the visible titles.
A hit: the top result (hit@1) or one of the top five (hit@5) is an expected sku; for
brand-only / category-only, has that brand / category; for homophone traps, holds the word.
Targets: ours hit@1 >= 0.95 overall and >= 0.90 in every kind.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapidfuzz import fuzz, process  # noqa: E402

from benchmarks.make_search_eval import DEFAULT_OUT, KINDS, Case, load_cases  # noqa: E402
from bot.demo_data import demo_catalog_items, demo_products  # noqa: E402
from core.catalog import CatalogItem  # noqa: E402
from core.search import SearchIndex, search  # noqa: E402


def is_hit(case: Case, item: CatalogItem) -> bool:
    if case.match == "brand":
        return item.brand == case.target
    if case.match == "category":
        return item.category == case.target
    if case.match == "word":
        return case.target in item.title
    return item.sku in case.expected


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--misses", action="store_true", help="list the queries our engine misses at 1")
    args = ap.parse_args()

    cases = load_cases(args.eval)
    items = demo_catalog_items(demo_products())
    index = SearchIndex.build(items)
    visible = [it for it in items if it.tier != "L0" and not it.counterfeit]
    titles = [it.title for it in visible]
    search(index, "预热")  # load OpenCC and pypinyin before timing

    # per kind: n, ours@1, ours@5, wratio@1, wratio@5
    stats: dict[str, list[int]] = {kind: [0, 0, 0, 0, 0] for kind in KINDS}
    misses: list[str] = []
    ours_time = base_time = 0.0
    for case in cases:
        t0 = time.perf_counter()
        hits = [h.item for h in search(index, case.query, limit=5).hits]
        t1 = time.perf_counter()
        base = [visible[i] for _, _, i in process.extract(case.query, titles, scorer=fuzz.WRatio, limit=5)]
        t2 = time.perf_counter()
        ours_time += t1 - t0
        base_time += t2 - t1
        row = stats.setdefault(case.kind, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += bool(hits) and is_hit(case, hits[0])
        row[2] += any(is_hit(case, it) for it in hits)
        row[3] += bool(base) and is_hit(case, base[0])
        row[4] += any(is_hit(case, it) for it in base)
        if not (hits and is_hit(case, hits[0])):
            top = f"{hits[0].title} [{hits[0].brand}/{hits[0].category}]" if hits else "(nothing)"
            misses.append(f"  {case.kind:<20} {case.query!r:<36} want {case.target!r}  got {top}")

    print(
        f"catalog: {len(items)} demo products ({len(visible)} visible); "
        f"{len(cases)} queries from {args.eval.name}"
    )
    print(f"{'kind':<20} {'n':>4}   {'ours@1':>7} {'ours@5':>7}   {'wratio@1':>8} {'wratio@5':>8}")

    def line(name: str, row: list[int]) -> str:
        n = row[0]
        ours = f"{row[1] / n:>7.3f} {row[2] / n:>7.3f}"
        return f"{name:<20} {n:>4}   {ours}   {row[3] / n:>8.3f} {row[4] / n:>8.3f}"

    total = [0, 0, 0, 0, 0]
    for kind, row in stats.items():
        if row[0]:
            total = [a + b for a, b in zip(total, row, strict=True)]
            print(line(kind, row))
    n = total[0]
    print(line("overall", total))
    print(f"mean latency: ours {ours_time / n * 1000:.3f} ms, WRatio scan {base_time / n * 1000:.3f} ms")
    worst = min((row[1] / row[0], kind) for kind, row in stats.items() if row[0])
    ok = total[1] / n >= 0.95 and worst[0] >= 0.90
    verdict = "met" if ok else "NOT met"
    print(f"target (>= 0.95 overall, >= 0.90 per kind): {verdict} (weakest: {worst[1]} {worst[0]:.3f})")
    if args.misses and misses:
        print("misses at 1:")
        print("\n".join(misses))


if __name__ == "__main__":
    main()
