"""Streamers for a product (达人匹配) wired to storage: what `/match` and `python -m bot match` list.

Only streamers who turned discoverability on (`/profile`) are candidates, never one who muted the
merchant; each is shown as a name, a category mix and a GMV band, never an exact figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from bot.picks import PicksContext
from bot.render import h, percent_text, shorten
from core.catalog import CatalogItem
from core.match import Candidate, rank_candidates, seller_mix
from storage import matching

MATCH_LIMIT = 10
NAME_CHARS = 40


@dataclass(frozen=True, slots=True)
class MatchRow:
    telegram_id: int
    name: str
    gap_category: str
    gmv_band: str
    mix: tuple[tuple[str, float], ...]


async def find_streamers(
    session: AsyncSession,
    context: PicksContext,
    item: CatalogItem,
    merchant_id: int,
    *,
    limit: int = MATCH_LIMIT,
) -> list[MatchRow]:
    """Discoverable streamers lacking `item`'s category, most like those already selling it first."""
    people = await matching.findable_streamers(session=session)
    muted = await matching.muted_by(merchant_id, session=session)
    people = [p for p in people if p.telegram_id not in muted]
    if not people:
        return []
    owns = [context.own_mix(p.telegram_id, p.chosen) for p in people]
    references = context.references(
        [(p.telegram_id, own, has) for p, (own, has) in zip(people, owns, strict=True)]
    )
    gmv = await matching.total_gmv([p.telegram_id for p in people], session=session)
    category = item.category
    sellers = seller_mix(mix for mix in context.sales.values() if mix.get(category, 0.0) > 0)
    candidates = [
        Candidate(p.telegram_id, own, reference.mix, gmv.get(p.telegram_id, 0.0))
        for p, (own, _has), reference in zip(people, owns, references, strict=True)
    ]
    names = {p.telegram_id: p.name for p in people}
    return [
        MatchRow(m.telegram_id, names.get(m.telegram_id, ""), category, m.gmv_band, m.mix)
        for m in rank_candidates(candidates, category, sellers, limit=limit)
    ]


def match_json(sku: str, rows: Sequence[MatchRow]) -> dict[str, Any]:
    """The `match --json` shape of PRODUCT.md: bands only, never a GMV figure."""
    return {
        "sku": sku,
        "streamers": [
            {
                "telegram_id": r.telegram_id,
                "name": r.name,
                "gap_category": r.gap_category,
                "gmv_band": r.gmv_band,
            }
            for r in rows
        ],
    }


def band_text(band: str, lang: str) -> str:
    return t(f"match.band.{band}", lang)


def mix_text(mix: Sequence[tuple[str, float]], lang: str) -> str:
    if not mix:
        return t("match.no_mix", lang)
    return " · ".join(f"{h(category)} {percent_text(share)}" for category, share in mix)


def display_name(row_name: str, n: int, lang: str) -> str:
    return h(shorten(row_name, NAME_CHARS)) if row_name.strip() else t("match.anonymous", lang, n=n)


def match_text(item: CatalogItem, rows: Sequence[MatchRow], lang: str) -> str:
    lines = [
        t("match.title", lang, title=h(shorten(item.title, 60)), sku=h(item.sku), category=h(item.category))
    ]
    if not rows:
        lines += ["", t("match.none", lang)]
        return "\n".join(lines)
    for n, row in enumerate(rows, 1):
        lines += [
            "",
            f"<b>{n}. {display_name(row.name, n, lang)}</b> · {band_text(row.gmv_band, lang)}",
            "    " + mix_text(row.mix, lang),
        ]
    lines += ["", t("match.footer", lang)]
    return "\n".join(lines)
