"""The five-dimension radar chart as SVG text (the Mini App draws it inline, themed by CSS)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

SIZE = 320
_CENTRE = SIZE / 2
_RADIUS = 110
_RINGS = (20, 40, 60, 80, 100)


def _point(axis: int, count: int, value: float) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * axis / count  # the first axis points up
    r = _RADIUS * max(0.0, min(value, 100.0)) / 100
    return _CENTRE + r * math.cos(angle), _CENTRE + r * math.sin(angle)


def _polygon(values: Sequence[float], css: str) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (_point(i, len(values), v) for i, v in enumerate(values)))
    return f'<polygon class="{css}" points="{pts}"/>'


def _frame(n: int, title: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="radar" viewBox="-60 4 {SIZE + 120} {SIZE - 20}" '
        f'role="img" aria-label="{escape(title)}">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for ring in _RINGS:
        parts.append(_polygon([ring] * n, "ring"))
    for i in range(n):
        x, y = _point(i, n, 100)
        parts.append(f'<line class="spoke" x1="{_CENTRE}" y1="{_CENTRE}" x2="{x:.1f}" y2="{y:.1f}"/>')
    return parts


def _label(i: int, n: int, text: str) -> str:
    # Labels sit outside the outer ring, so they never cross a product's outline.
    x, y = _point(i, n, 124)
    anchor = "middle" if abs(x - _CENTRE) < 8 else ("start" if x > _CENTRE else "end")
    return f'<text class="axis" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def compare_svg(series: Sequence[Mapping[str, float]], labels: Mapping[str, str], *, title: str = "") -> str:
    """Up to three products on one radar (classes `series s0`, `s1`, `s2` colour them)."""
    axes = list(labels)
    parts = _frame(len(axes), title)
    for k, dims in enumerate(series):
        parts.append(_polygon([float(dims.get(a, 0.0)) for a in axes], f"series s{k}"))
    parts += [_label(i, len(axes), labels[a]) for i, a in enumerate(axes)]
    parts.append("</svg>")
    return "".join(parts)


def radar_svg(
    dimensions: Mapping[str, float],
    average: Mapping[str, float] | None,
    labels: Mapping[str, str],
    *,
    title: str = "",
) -> str:
    """An SVG radar of `dimensions` (0-100 each, in `labels`' order) over the category `average`."""
    axes = list(labels)
    n = len(axes)
    parts = _frame(n, title)
    if average:
        parts.append(_polygon([float(average.get(a, 0.0)) for a in axes], "average"))
    parts.append(_polygon([float(dimensions.get(a, 0.0)) for a in axes], "product"))
    for i, axis in enumerate(axes):
        parts.append(_label(i, n, f"{labels[axis]} {float(dimensions.get(axis, 0.0)):.0f}"))
    parts.append("</svg>")
    return "".join(parts)
