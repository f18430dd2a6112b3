"""Radar (spider) chart of one product's five dimension scores against its category's average.

Rendering is CPU-bound and synchronous: from asyncio code call it in a worker thread,
``png = await asyncio.to_thread(radar_png, ...)``. It never touches pyplot or any global
matplotlib state beyond registering one font file once per process, so concurrent calls from
several threads are safe.

Chinese labels must render on a fresh machine without system CJK fonts, so the Noto Sans CJK SC
file shipped inside the ``mplfonts`` package is registered with matplotlib directly.
"""

from __future__ import annotations

import io
import math
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.projections.polar import PolarAxes

from bot.i18n import t
from core.grading import DIMENSIONS

__all__ = [
    "DIMENSIONS",
    "FONT_FILE",
    "cjk_font",
    "dimension_labels",
    "font_path",
    "radar_figure",
    "radar_png",
]


def dimension_labels(lang: str = "zh") -> dict[str, str]:
    """Ready-made ``labels`` for `radar_png`: the five standard dimensions in `lang`, in order."""
    return {key: t(f"dim.{key}", lang) for key in DIMENSIONS}


FONT_FILE = "NotoSansCJKsc-Regular.otf"

_PRODUCT_COLOR = "#E4393C"
_AVERAGE_COLOR = "#5B6B7F"
_SIZE_INCHES = 7.2
_DPI = 110  # 7.2 in x 110 dpi = 792 px square
_TITLE_WIDTH = 44  # half-width characters per title line at 17 pt
# How far (in score points; 100 = the outer ring, ~270 px) a ring label reaches from its anchor: a
# 9-pt "100" is 24 x 14 px beside it, within 28 px, and a little air on top.
_RING_LABEL_REACH = 11.5

_font_lock = threading.Lock()
_font: FontProperties | None = None
_charmap: frozenset[int] = frozenset()


def font_path() -> Path:
    """The Noto Sans CJK SC file inside the installed ``mplfonts`` package."""
    # find_spec locates the package without importing it: mplfonts' own code only edits rcParams.
    spec = find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mplfonts package is not installed; it ships the CJK font")
    path = Path(next(iter(spec.submodule_search_locations))) / "fonts" / FONT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{FONT_FILE} not found in the mplfonts package (looked at {path})")
    return path


def cjk_font() -> FontProperties:
    """The CJK font, registered with matplotlib's font manager once per process (a fresh copy)."""
    global _font, _charmap
    with _font_lock:
        if _font is None:
            path = font_path()
            font_manager.fontManager.addfont(str(path))
            name = FontProperties(fname=path).get_name()  # "Noto Sans CJK SC"
            font = FontProperties(family=name)
            # Use it by name; should a system font of the same name win the lookup, use the file.
            if Path(font_manager.findfont(font, fallback_to_default=False)) != path:
                font = FontProperties(fname=path)
            _charmap = frozenset(FT2Font(str(path)).get_charmap())
            _font = font
        return _font.copy()


def _sized(font: FontProperties, size: float) -> FontProperties:
    sized = font.copy()
    sized.set_size(size)
    return sized


def _drawable(text: str) -> str:
    """``text`` without characters the font has no glyph for (emoji...), which would draw as boxes."""
    return "".join(char for char in text if char.isspace() or ord(char) in _charmap)


def _title_lines(title: str, width: int = _TITLE_WIDTH, lines: int = 2) -> str:
    """Wrap a title to the figure's width (a CJK character counts double), with an ellipsis if cut."""
    rows: list[str] = []
    row, used = "", 0
    for char in " ".join(_drawable(title).split()):
        cost = 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used + cost > width:
            rows.append(row.rstrip())
            row, used = "", 0
            if len(rows) == lines:
                rows[-1] = rows[-1][:-1] + "…"
                break
            if char == " ":
                continue
        row += char
        used += cost
    else:
        rows.append(row)
    return "\n".join(rows)


def _points(angles: Sequence[float] | np.ndarray, radii: Sequence[float]) -> np.ndarray:
    """Polar points as x, y (in the axes' own theta: the display is this turned and mirrored)."""
    return np.column_stack([np.asarray(radii) * np.cos(angles), np.asarray(radii) * np.sin(angles)])


def _distance(point: np.ndarray, polygon: np.ndarray) -> float:
    """From a point to a closed polygon's outline (straight edges: a polar line is drawn straight)."""
    starts, ends = polygon, np.roll(polygon, -1, axis=0)
    edges = ends - starts
    lengths = np.maximum((edges**2).sum(axis=1), 1e-12)
    s = np.clip(((point - starts) * edges).sum(axis=1) / lengths, 0.0, 1.0)
    nearest = starts + s[:, None] * edges
    return float(np.sqrt(((nearest - point) ** 2).sum(axis=1)).min())


def _ring_label_place(
    angles: np.ndarray, product: list[float], average: list[float], rings: list[int]
) -> tuple[float, list[bool]]:
    """The angle between two spokes for the ring labels, and which of them to show there.

    A label sits beside its anchor (the ring at that angle), within `_RING_LABEL_REACH` of it; one
    whose anchor is nearer than that to the product's line would touch it and is left out. The
    angle is the one that shows the most labels, then keeps them farthest from both lines.
    """
    mine, theirs = _points(angles, product), _points(angles, average)
    best: tuple[int, float, float, list[bool]] | None = None
    for i in range(len(angles)):
        middle = float(angles[i] + math.pi / len(angles))
        anchors = _points([middle] * len(rings), rings)
        near_mine = [_distance(anchor, mine) for anchor in anchors]
        near_theirs = [_distance(anchor, theirs) for anchor in anchors]
        shown = [d >= _RING_LABEL_REACH for d in near_mine]
        clearance = min(
            [d for d, show in zip(near_mine, shown, strict=True) if show]
            + [d for d, show in zip(near_theirs, shown, strict=True) if show]
            + [100.0]
        )
        candidate = (sum(shown), clearance, middle, shown)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    assert best is not None
    return best[2], best[3]


def _score(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return 0.0
    return min(100.0, max(0.0, float(value)))


def radar_png(
    dimensions: Mapping[str, float],
    category_average: Mapping[str, float],
    *,
    labels: Mapping[str, str],
    title: str,
    lang: str = "zh",
    headline: str | None = None,
) -> bytes:
    """A PNG (792 px square) of the product's dimension scores (0-100) against its category's average.

    ``labels`` maps each dimension key to its axis label and sets the order of the axes, clockwise
    from the top; use ``dimension_labels(lang)`` for the five standard ones. A dimension missing
    from either mapping counts as 0. ``headline`` (tier, score, points to the next tier) goes on its
    own line under a one-line ``title``. Synchronous: from asyncio code use `asyncio.to_thread`.
    """
    figure = radar_figure(
        dimensions, category_average, labels=labels, title=title, lang=lang, headline=headline
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def radar_figure(
    dimensions: Mapping[str, float],
    category_average: Mapping[str, float],
    *,
    labels: Mapping[str, str],
    title: str,
    lang: str = "zh",
    headline: str | None = None,
) -> Figure:
    """The chart of `radar_png` as a matplotlib `Figure` (an Agg canvas, no pyplot), for other formats."""
    keys = list(labels)
    if len(keys) < 3:
        raise ValueError("a radar chart needs at least three dimensions")
    font = cjk_font()
    legend_lang = "en" if lang.lower().startswith("en") else "zh"
    product_name = t("chart.this_product", legend_lang)
    average_name = t("chart.category_average", legend_lang)
    product = [_score(dimensions.get(key)) for key in keys]
    average = [_score(category_average.get(key)) for key in keys]

    # Clockwise from twelve o'clock; the polygons are closed by repeating the first point.
    angles = np.linspace(0.0, 2 * np.pi, len(keys), endpoint=False)
    closed_angles = np.append(angles, angles[0])

    figure = Figure(figsize=(_SIZE_INCHES, _SIZE_INCHES), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(projection="polar")
    assert isinstance(axes, PolarAxes)  # for the type checker
    axes.set_theta_offset(np.pi / 2)
    axes.set_theta_direction(-1)

    axes.plot(closed_angles, [*average, average[0]], color=_AVERAGE_COLOR, linewidth=2, linestyle="--")
    axes.fill(closed_angles, [*average, average[0]], color=_AVERAGE_COLOR, alpha=0.12)
    axes.plot(closed_angles, [*product, product[0]], color=_PRODUCT_COLOR, linewidth=2.5, marker="o")
    axes.fill(closed_angles, [*product, product[0]], color=_PRODUCT_COLOR, alpha=0.22)

    axes.set_ylim(0, 100)
    rings = [20, 40, 60, 80, 100]
    axes.set_yticks(rings)
    # The ring labels go between the two spokes where no line passes near them; the angle is in the
    # axes' own theta (clockwise from the top), as set_rlabel_position wants it, in degrees.
    place, shown = _ring_label_place(angles, product, average, rings)
    axes.set_yticklabels(
        [str(ring) if show else "" for ring, show in zip(rings, shown, strict=True)],
        fontproperties=_sized(font, 9),
        color="#8A94A6",
        parse_math=False,
    )
    axes.set_rlabel_position(math.degrees(place))
    axes.set_xticks(angles)
    axes.set_xticklabels(
        [f"{_drawable(labels[key])}\n{value:.0f}" for key, value in zip(keys, product, strict=True)],
        fontproperties=_sized(font, 14),
        parse_math=False,
    )
    axes.tick_params(axis="x", pad=14)
    axes.grid(color="#D5DAE1", linewidth=0.8)
    axes.spines["polar"].set_color("#C0C7D1")

    # Title across the top (up to two lines), legend under it on the right, chart below both.
    heading = (
        _title_lines(title)
        if headline is None
        else f"{_title_lines(title, lines=1)}\n{_title_lines(headline, lines=1)}"
    )
    figure.suptitle(heading, y=0.975, va="top", fontproperties=_sized(font, 17), parse_math=False)
    legend = axes.legend(
        handles=axes.lines[::-1],  # this product first
        labels=[product_name, average_name],
        loc="upper right",
        bbox_to_anchor=(0.985, 0.875),
        bbox_transform=figure.transFigure,
        prop=_sized(font, 12),
        frameon=False,
    )
    legend.set_zorder(5)
    figure.subplots_adjust(left=0.12, right=0.88, top=0.76, bottom=0.07)
    return figure
