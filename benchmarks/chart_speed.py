"""How long does one grade chart (the radar PNG) take to draw, ring-label placement included?

    .venv/bin/python benchmarks/chart_speed.py [--runs 30]

Draws the chart for random five-dimension scores (a fixed seed) with a heading, as /grade does,
and prints the median and 95th percentile of the PNG's drawing time and of the label placement
alone (the part that keeps the ring labels off the product's line).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bot.chart import DIMENSIONS, _ring_label_place, dimension_labels, radar_png  # noqa: E402


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    rng = random.Random(14)
    draw, place = [], []
    angles = np.linspace(0.0, 2 * np.pi, len(DIMENSIONS), endpoint=False)
    for _ in range(args.runs):
        product = {d: rng.uniform(0, 100) for d in DIMENSIONS}
        average = {d: rng.uniform(20, 90) for d in DIMENSIONS}
        start = time.perf_counter()
        _ring_label_place(angles, list(product.values()), list(average.values()), [20, 40, 60, 80, 100])
        place.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        radar_png(
            product,
            average,
            labels=dimension_labels("zh"),
            title="Dyson 戴森 HD15 速干 吹风机 黑镍色",
            headline="L3 优质好物 · 72.0 分 · 距 L4 还差 3.1 分",
        )
        draw.append((time.perf_counter() - start) * 1000)
    runs = f"({args.runs} runs)"
    print(f"chart PNG        median {statistics.median(draw):7.1f} ms   p95 {_p95(draw):7.1f} ms   {runs}")
    print(f"label placement  median {statistics.median(place):7.3f} ms   p95 {_p95(place):7.3f} ms")


if __name__ == "__main__":
    main()
