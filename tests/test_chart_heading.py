"""The grade chart's heading (tier name, score, points to the next tier) and its ring labels."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from matplotlib.figure import Figure
from matplotlib.path import Path

from bot.chart import DIMENSIONS, dimension_labels, radar_figure
from bot.render import chart_headline
from core.grading import Grade, Indicators, grade
from core.policy import default_policy
from tests.factories import import_rows, product_row

HEADLINE = "L3 优质好物 · 68.2 分 · 距 L4 还差 6.8 分"


def figure_for(product: dict[str, float], average: dict[str, float], **extra: Any) -> Figure:
    figure = radar_figure(product, average, labels=dimension_labels("zh"), title="雅诗兰黛 小棕瓶", **extra)
    figure.canvas.draw()
    return figure


def ring_labels_touching_the_product(figure: Figure) -> tuple[list[str], int]:
    """Ring labels whose drawn box meets the product's line (in display pixels), and how many show."""
    axes = figure.axes[0]
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    product_line = axes.lines[1]  # drawn after the average
    outline = Path(axes.transData.transform(product_line.get_xydata()))
    touching, shown = [], 0
    for label in axes.get_yticklabels():
        if not label.get_visible() or not label.get_text():
            continue
        shown += 1
        if outline.intersects_bbox(label.get_window_extent(renderer), filled=False):
            touching.append(label.get_text())
    return touching, shown


def test_the_heading_names_tier_score_and_points_to_the_next_tier() -> None:
    figure = figure_for({d: 68.0 for d in DIMENSIONS}, {d: 60.0 for d in DIMENSIONS}, headline=HEADLINE)
    assert figure._suptitle is not None
    assert figure._suptitle.get_text() == f"雅诗兰黛 小棕瓶\n{HEADLINE}"


def test_no_ring_label_touches_the_products_line() -> None:
    rng = random.Random(7)
    cases = [
        {d: 78.0 for d in DIMENSIONS},  # crosses the old label spot (36°, between 品牌力 and 价格力) at 63
        {"brand": 74.0, "price": 74.0, "distribution": 60.0, "service": 80.0, "sales": 30.0},
        {d: 100.0 for d in DIMENSIONS},
        {d: 0.0 for d in DIMENSIONS},
    ] + [{d: rng.uniform(0, 100) for d in DIMENSIONS} for _ in range(40)]
    for product in cases:
        average = {d: rng.uniform(20, 90) for d in DIMENSIONS}
        touching, shown = ring_labels_touching_the_product(figure_for(product, average))
        assert touching == [], (product, touching)
        assert shown >= 3, product  # the rings stay readable


def test_the_overlap_check_can_fail() -> None:
    """Control: with the labels back at the old spot and all shown, the line crosses the "60" label."""
    figure = figure_for({d: 78.0 for d in DIMENSIONS}, {d: 50.0 for d in DIMENSIONS})
    axes = figure.axes[0]
    axes.set_yticklabels(["20", "40", "60", "80", "100"])
    axes.set_rlabel_position(36)
    figure.canvas.draw()
    touching, _shown = ring_labels_touching_the_product(figure)
    assert touching == ["60"]


def _grade(score_goal: str) -> Grade:
    from tests.factories import _MID, _TOP

    values = {"top": _TOP, "mid": _MID}[score_goal]
    return grade(Indicators.from_mapping(values), default_policy())


def test_headline_text_in_both_languages() -> None:
    mid = _grade("mid")
    assert mid.next_tier is not None and mid.next_tier.points_needed > 0
    points = math.ceil(round(mid.next_tier.points_needed * 10, 6)) / 10
    zh = chart_headline(mid, "zh")
    assert zh.startswith(f"{mid.tier} ") and f"· {mid.score:.1f} 分 ·" in zh
    assert zh.endswith(f"距 {mid.next_tier.tier} 还差 {points:.1f} 分")
    en = chart_headline(mid, "en")
    assert f"{mid.score:.1f} pts" in en and en.endswith(f"{points:.1f} pts to {mid.next_tier.tier}")
    top = _grade("top")
    assert (
        top.tier == "L5" and chart_headline(top, "zh") == f"L5 行业尖货 · {top.score:.1f} 分 · 已是最高层级"
    )


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
async def test_grade_through_the_dispatcher_draws_the_heading(chat, services, monkeypatch, lang: str) -> None:
    import handlers.grade

    drawn: list[dict[str, Any]] = []
    real = handlers.grade.radar_png

    def spy(*args: Any, **kwargs: Any) -> bytes:
        drawn.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers.grade, "radar_png", spy)
    await import_rows(services, [product_row("MID-1", "云朵 牙膏", grade="mid")])
    requests = await chat.message(1001, "/grade MID-1", lang=lang)
    assert [type(r).__name__ for r in requests][-1] == "SendPhoto"
    [call] = drawn
    assert call["title"] == "云朵 牙膏"
    expected = _grade("mid")
    assert expected.next_tier is not None
    if lang == "en":
        assert call["headline"].startswith(f"{expected.tier} ") and " pts to " in call["headline"]
    else:
        assert call["headline"] == chart_headline(expected, "zh") and "还差" in call["headline"]
