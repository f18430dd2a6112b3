"""Rendering: product cards, grade cards and JSON shapes. Pure: no aiogram, no SQL.

All catalog and user text is HTML-escaped here; the result goes out with parse_mode=HTML.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from html import escape, unescape

from bot.i18n import catalogue, lang_of, t
from core.activities import Mark
from core.catalog import CatalogItem, HistoryEntry
from core.grading import DIMENSIONS, INDICATORS, Grade, Indicators
from core.picks import Mix, Pick, Reference

TELEGRAM_LIMIT = 4096
CAPTION_LIMIT = 1024  # a photo's caption, counted after the HTML is parsed
_TAG = re.compile(r"<[^>]+>")


def h(text: object) -> str:
    """HTML-escape catalog or user text for Telegram's HTML parse mode."""
    return escape(str(text), quote=False)


def visible_length(html_text: str) -> int:
    """The length Telegram counts for an HTML text once parsed: tags gone, entities one character,
    in UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(unescape(_TAG.sub("", html_text)).encode("utf-16-le")) // 2


def fits_caption(html_text: str) -> bool:
    """Can this HTML text go out as a photo's caption?"""
    return visible_length(html_text) <= CAPTION_LIMIT


def _in_zone(moment: datetime, zone: tzinfo) -> datetime:
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(zone)


def local_date(moment: datetime, zone: tzinfo) -> str:
    """The day a stored moment fell on for the reader, as YYYY-MM-DD (a naive moment is UTC)."""
    return _in_zone(moment, zone).strftime("%Y-%m-%d")


def local_time(moment: datetime, zone: tzinfo) -> str:
    """A stored moment on the reader's clock, as YYYY-MM-DD HH:MM (a naive moment is UTC)."""
    return _in_zone(moment, zone).strftime("%Y-%m-%d %H:%M")


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis when longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tier_label(tier: str, lang: str) -> str:
    return f"{tier} {t(f'tier.{tier}', lang)}"


def badge_label(badge: str, lang: str) -> str:
    return catalogue().get(lang, {}).get(f"badge.{badge}", badge)


def badges_text(badges: Iterable[str], lang: str) -> str:
    return " · ".join(h(badge_label(b, lang)) for b in badges)


def money(value: float) -> str:
    return f"¥{value:,.2f}".replace(".00", "")


def percent(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def percent_text(share: float) -> str:
    """A share as a whole percent, rounded half up; ``<1%`` for a nonzero share below 0.5%."""
    share = float(share)
    if not share > 0:  # also NaN
        return "0%"
    if share < 0.005:
        return "<1%"
    whole = (Decimal(repr(share)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{whole}%"


def pick_reason(pick: Pick, lang: str = "zh") -> str:
    """Why this pick, as plain text: ``"美妆个护: 你 2%, 同类主播 18%"`` (category names kept as given)."""
    lang = lang_of(lang)
    return t(
        "picks.reason",
        lang,
        category=pick.category,
        own=percent_text(pick.own_share),
        who=t(f"picks.reason_{pick.source}", lang),
        reference=percent_text(pick.reference_share),
    )


def format_indicator(name: str, value: float, lang: str = "zh") -> str:
    """An indicator's raw value as a merchant reads it."""
    if name in ("brand_authorized", "factory_verified"):
        return t("yes" if value >= 1 else "no", lang)
    if name in ("commission_rate", "refund_rate", "conversion_rate"):
        return percent(value)
    if name == "dispute_rate":
        return percent(value, 2)
    if name == "gmv_30d":
        return money(value)
    if name == "active_streamers_30d":
        return f"{int(value):,}"
    if name == "shop_rating":
        return f"{value:.2f}"
    if name in ("price_index", "lowest_price_ratio"):
        return f"{value:.2f}"
    return f"{value:g}"


def score_text(score: float) -> str:
    return f"{score:.1f}"


def dimensions_lines(dimensions: dict[str, float], lang: str) -> list[str]:
    out = []
    for dim in DIMENSIONS:
        value = dimensions.get(dim, 0.0)
        bar = "█" * int(round(value / 10)) + "░" * (10 - int(round(value / 10)))
        out.append(f"{t(f'dim.{dim}', lang)} <code>{bar}</code> {score_text(value)}")
    return out


def commission_text(public: float, exclusive: float | None, lang: str) -> str:
    """The rate a streamer gets: "专属 30%" when they hold an exclusive offer, else the public rate."""
    if exclusive is None:
        return percent(public)
    return t("deals.exclusive_rate", lang, rate=percent(exclusive))


def category_name(name: str, lang: str = "zh") -> str:
    """A category as the reader's language names it (`category.<name>` in the locales), else as given."""
    return catalogue().get(lang, {}).get(f"category.{name}") or name


def mark_text(mark: Mark, lang: str) -> str:
    """A 团长 activity's mark on an approved product, for the streamers of that 团长's team."""
    return t("activity.mark", lang, name=h(mark.name), rate=percent(mark.rate))


def product_card(
    item: CatalogItem, lang: str = "zh", *, exclusive: float | None = None, mark: Mark | None = None
) -> str:
    """The card everyone may see: no raw indicators. `exclusive` is the viewer's own 专属 rate,
    `mark` their team's activity on this product."""
    lines = [
        f"<b>{h(item.title)}</b>",
        f"{t('card.sku', lang)}: <code>{h(item.sku)}</code>",
        f"{t('card.brand', lang)}: {h(item.brand)}  ·  "
        f"{t('card.category', lang)}: {h(category_name(item.category, lang))}",
        f"{t('card.price', lang)}: {money(item.price)}  ·  "
        f"{t('card.commission', lang)}: {commission_text(item.commission_rate, exclusive, lang)}",
        f"{t('card.tier', lang)}: <b>{tier_label(item.tier, lang)}</b>  ·  "
        f"{t('card.score', lang)}: {score_text(item.score)}",
    ]
    if item.badges:
        lines.append(f"{t('card.badges', lang)}: {badges_text(item.badges, lang)}")
    if mark is not None:
        lines.append(mark_text(mark, lang))
    if item.dimensions:
        lines.append("")
        lines.append(f"<b>{t('card.dimensions', lang)}</b>")
        lines.extend(dimensions_lines(item.dimensions, lang))
    return "\n".join(lines)


def lever_text(lever, lang: str) -> str:
    return t(
        "card.lever",
        lang,
        indicator=t(f"ind.{lever.indicator}", lang),
        current=format_indicator(lever.indicator, lever.current, lang),
        target=format_indicator(lever.indicator, lever.target, lang),
        gain=f"{lever.gain:.1f}",
    )


def _gate_names(gates: Iterable[str], lang: str) -> str:
    return t("list.separator", lang).join(t(f"gate.{g}", lang) for g in gates)


def next_tier_lines(grade: Grade, lang: str) -> list[str]:
    nxt = grade.next_tier
    if nxt is None:
        return [t("card.top", lang)]
    if "counterfeit" in nxt.blocked_by:
        return [t("card.counterfeit_blocked", lang)]
    lines = []
    if nxt.points_needed > 0:
        lines.append(
            t(
                "card.next",
                lang,
                tier=nxt.tier,
                tier_name=t(f"tier.{nxt.tier}", lang),
                points=f"{nxt.points_needed:.1f}",
            )
        )
    if nxt.blocked_by:
        lines.append(t("card.next_blocked", lang, tier=nxt.tier, gates=_gate_names(nxt.blocked_by, lang)))
    if nxt.levers:
        lines.append(f"<b>{t('card.levers', lang)}</b>")
        lines.extend(f"• {lever_text(lv, lang)}" for lv in nxt.levers)
    return lines


def grade_card(
    item: CatalogItem,
    lang: str = "zh",
    *,
    private: tuple[Indicators, Grade] | None = None,
    history: Sequence[HistoryEntry] = (),
    zone: tzinfo = UTC,
    exclusive: float | None = None,
    mark: Mark | None = None,
) -> str:
    """The grade card: the public part for everyone; `private` (indicators + grade) for owner and admins.

    Tier history is dated in `zone`, the reader's time zone (the same day their picks carry);
    `exclusive` is the viewer's own 专属 rate on the product (shown to that streamer alone)."""
    lines = [product_card(item, lang, exclusive=exclusive, mark=mark)]
    if private is None:
        return lines[0]
    ind, grade = private
    if grade.capped_by:
        lines.append("")
        lines.append(t("card.capped", lang, raw=grade.raw_tier, gates=_gate_names(grade.capped_by, lang)))
    lines.append("")
    lines.append(f"<b>{t('card.indicators', lang)}</b>")
    for name in INDICATORS:
        points = t("card.points", lang, points=f"{grade.indicator_points[name]:.0f}")
        lines.append(f"{t(f'ind.{name}', lang)}: {format_indicator(name, ind.value(name), lang)}  ({points})")
    lines.append("")
    lines.append(f"<b>{t('card.gates', lang)}</b>")
    for gate, passed in grade.gates.items():
        if gate == "counterfeit" and not passed:
            verdict = t("gate.counterfeit_fail", lang)
        else:
            verdict = t("gate.pass" if passed else "gate.fail", lang)
        lines.append(f"{t(f'gate.{gate}', lang)}: {verdict}")
    lines.append("")
    lines.extend(next_tier_lines(grade, lang))
    if history:
        lines.append("")
        lines.append(f"<b>{t('card.history', lang)}</b>")
        for entry in history:
            when = local_date(entry.changed_at, zone)
            if entry.old_tier is None:
                lines.append(t("card.history_first", lang, when=when, new=entry.new_tier))
            else:
                dim = t(f"dim.{entry.moved_dimension}", lang) if entry.moved_dimension else "-"
                lines.append(
                    t(
                        "card.history_item",
                        lang,
                        when=when,
                        old=entry.old_tier,
                        new=entry.new_tier,
                        dimension=dim,
                    )
                )
    return "\n".join(lines)


def chart_headline(grade: Grade, lang: str = "zh") -> str:
    """The chart's heading: "L3 优质好物 · 68.2 分 · 距 L4 还差 6.8 分" (plain text, drawn in the image)."""
    parts = [
        tier_label(grade.tier, lang),
        t("chart.score", lang, score=score_text(grade.score)),
    ]
    nxt = grade.next_tier
    if nxt is None:
        parts.append(t("chart.top", lang))
    elif nxt.points_needed > 0:
        # Rounded up: 0.04 points to go reads "0.1", never "0.0".
        points = math.ceil(round(nxt.points_needed * 10, 6)) / 10
        parts.append(t("chart.next", lang, tier=nxt.tier, points=f"{points:.1f}"))
    elif nxt.blocked_by and "counterfeit" not in nxt.blocked_by:
        parts.append(t("chart.next_gated", lang, tier=nxt.tier))
    return " · ".join(parts)


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split a reply into chunks under Telegram's limit, at line breaks where possible."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single over-long line: hard cut
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def grade_json(sku: str, ind: Indicators, grade: Grade, *, private: bool = True) -> dict:
    """The `grade --json` shape from PRODUCT.md."""
    nxt = grade.next_tier
    data: dict = {
        "sku": sku,
        "tier": grade.tier,
        "tier_name": grade.tier_name,
        "score": round(grade.score, 2),
        "dimensions": {d: round(grade.dimensions[d], 2) for d in DIMENSIONS},
        "indicators": {
            name: {"value": ind.value(name), "points": round(grade.indicator_points[name], 2)}
            for name in INDICATORS
        }
        if private
        else {},
        "gates": {
            g: {"passed": ok, "caps": "L0" if g == "counterfeit" else "L4"} for g, ok in grade.gates.items()
        },
        "badges": list(grade.badges),
        "next_tier": None
        if nxt is None
        else {
            "tier": nxt.tier,
            "points_needed": nxt.points_needed,
            "levers": [
                {"indicator": lv.indicator, "from": lv.current, "to": lv.target, "points": lv.gain}
                for lv in nxt.levers
            ]
            if private
            else [],
            "blocked_by": list(nxt.blocked_by),
        },
        "policy_version": grade.policy_version,
    }
    return data


# The /categories view: a streamer's mix beside the reference, the gaps marked.


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    space = " " * max(0, width - _width(text))
    return space + text if right else text + space


def mix_table(own: Mix, reference: Reference, lang: str, *, limit: int = 12) -> str:
    """Their mix beside the reference, gaps marked, as a monospaced table (HTML <pre>)."""
    names = set(own) | set(reference.mix)

    def gap(c: str) -> float:
        return reference.mix.get(c, 0.0) - own.get(c, 0.0)

    # The gaps first, biggest first; then what they sell without a gap, their biggest first; then
    # the rest by how much the reference sells. What they sell always shows; gaps take the room left.
    gap_rows = sorted((c for c in names if gap(c) > 1e-9), key=lambda c: (-gap(c), c))
    own_rows = sorted(
        (c for c in names if gap(c) <= 1e-9 and own.get(c, 0.0) > 0), key=lambda c: (-own[c], c)
    )
    rest = sorted((c for c in names if gap(c) <= 1e-9 and not own.get(c, 0.0) > 0), key=lambda c: c)
    room = max(limit - len(own_rows), min(5, len(gap_rows)))
    order = (gap_rows[:room] + own_rows + rest)[:limit]
    who = t("categories.col_peers" if reference.source == "peers" else "categories.col_platform", lang)
    header = [
        t("categories.col_category", lang),
        t("categories.col_you", lang),
        who,
        t("categories.col_gap", lang),
    ]
    body = []
    for category in order:
        mine, ref = own.get(category, 0.0), reference.mix.get(category, 0.0)
        missing = ref - mine
        body.append(
            [
                category[:10],
                percent_text(mine),
                percent_text(ref),
                f"+{percent_text(missing)}" if missing > 1e-9 else "",
            ]
        )
    widths = [max(_width(row[i]) for row in [header, *body]) for i in range(4)]
    lines = [
        "  ".join(_pad(cell, widths[i], right=i > 0) for i, cell in enumerate(row)).rstrip()
        for row in [header, *body]
    ]
    more = len(names) - len(order)
    text = "<pre>" + h("\n".join(lines)) + "</pre>"
    if more > 0:
        text += "\n" + t("categories.more", lang, n=more)
    return text


def categories_text(own: Mix, has_sales: bool, reference: Reference, lang: str) -> str:
    lines = [t("categories.title", lang)]
    if has_sales:
        lines.append(t("categories.from_sales", lang))
    elif own:
        lines.append(t("categories.from_choice", lang))
    else:
        lines.append(t("categories.no_data", lang))
    if own or reference.mix:
        lines += ["", mix_table(own, reference, lang)]
    if not has_sales:
        lines += ["", t("categories.choose", lang)]
    else:
        lines += ["", t("categories.footer", lang)]
    return "\n".join(lines)
