"""The radar chart: a real PNG of sensible size, drawn in the bundled CJK font, without warnings."""

from __future__ import annotations

import asyncio
import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.image import imread
from matplotlib.text import Text

from bot.chart import DIMENSIONS, FONT_FILE, cjk_font, dimension_labels, font_path, radar_figure, radar_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PRODUCT = {"brand": 82.0, "price": 64.0, "distribution": 91.0, "service": 77.0, "sales": 58.0}
AVERAGE = {"brand": 60.0, "price": 70.0, "distribution": 55.0, "service": 72.0, "sales": 50.0}


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which must come first."""
    assert png[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", png[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def render(**overrides: object) -> bytes:
    options: dict[object, object] = {
        "labels": dimension_labels("zh"),
        "title": "雅诗兰黛 小棕瓶精华 50ml",
        "lang": "zh",
    }
    options.update(overrides)
    return radar_png(PRODUCT, AVERAGE, **options)  # type: ignore[arg-type]


def test_png_signature_size_and_weight() -> None:
    png = render()
    width, height = png_size(png)
    assert 600 <= width <= 900 and width == height
    assert 10_000 < len(png) < 200_000


def test_renders_without_any_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render()
        render(labels=dimension_labels("en"), title="Estee Lauder serum", lang="en")
        render(title="护肤 🔥 $9.9 包邮 " * 6)  # an emoji (no glyph), dollars (no mathtext), too long
    assert [str(warning.message) for warning in caught] == []


def test_the_warning_check_can_fail() -> None:
    """Control: CJK text in matplotlib's default font does warn about missing glyphs."""
    figure = Figure()
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, "品牌力", fontproperties=FontProperties(family="DejaVu Sans"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(io.BytesIO(), format="png")
    assert any("missing from font" in str(warning.message) for warning in caught)


def test_the_font_is_the_bundled_noto_cjk_file() -> None:
    path = font_path()
    assert path.name == FONT_FILE == "NotoSansCJKsc-Regular.otf"
    assert "mplfonts" in path.parts
    font = cjk_font()
    assert font.get_family() == ["Noto Sans CJK SC"]  # used by name, after `addfont`
    assert Path(font_manager.findfont(font, fallback_to_default=False)) == path
    charmap = FT2Font(str(path)).get_charmap()
    wanted = (
        "".join(dimension_labels("zh").values()) + "本品类目均值" + "ThisproductCategoryaverage0123456789"
    )
    assert all(ord(char) in charmap for char in wanted)


def test_every_text_in_the_chart_uses_the_cjk_font() -> None:
    figure = radar_figure(PRODUCT, AVERAGE, labels=dimension_labels("zh"), title="选品")
    figure.canvas.draw()
    texts = [text for text in figure.findobj(Text) if text.get_text() and text.get_visible()]
    assert {Path(font_manager.findfont(text.get_fontproperties())) for text in texts} == {font_path()}
    shown = {text.get_text() for text in texts}
    assert {"本品", "类目均值", "选品", "品牌力\n82", "销售力\n58"} <= shown


def test_english_legend() -> None:
    figure = radar_figure(PRODUCT, AVERAGE, labels=dimension_labels("en"), title="x", lang="en")
    legend = figure.axes[0].get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["This product", "Category average"]
    assert legend.get_lines()[0].get_color() != legend.get_lines()[1].get_color()


def test_axes_follow_the_labels_and_scores_are_clipped() -> None:
    labels = {key: dimension_labels("zh")[key] for key in DIMENSIONS}
    figure = radar_figure({"brand": 150, "price": -3, "service": float("nan")}, {}, labels=labels, title="t")
    axes = figure.axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == [
        "品牌力\n100",
        "价格力\n0",
        "分销力\n0",
        "服务力\n0",
        "销售力\n0",
    ]
    with pytest.raises(ValueError, match="three"):
        radar_png(PRODUCT, AVERAGE, labels={"brand": "品牌力", "price": "价格力"}, title="t")


def test_the_product_polygon_is_drawn() -> None:
    image = imread(io.BytesIO(render()), format="png")[:, :, :3]  # floats 0..1
    red = np.array([0xE4, 0x39, 0x3C]) / 255
    assert (np.abs(image - red).max(axis=2) < 0.05).sum() > 2000  # the product's outline and markers


async def test_callable_from_asyncio_in_threads() -> None:
    pngs = await asyncio.gather(*(asyncio.to_thread(render) for _ in range(4)))
    assert all(png_size(png) == png_size(pngs[0]) for png in pngs)
    assert len(set(pngs)) == 1  # deterministic, and threads do not disturb each other
