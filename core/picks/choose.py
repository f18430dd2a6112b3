"""Gaps and picks: the categories where the reference sells more than the streamer, and the L4+
goods (L5 first) that fill them, paged for 换一批. Pure: no clock, no I/O; same inputs, same picks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from core.catalog import CatalogItem
from core.picks.peers import Reference, Source

__all__ = ["PICKABLE_TIERS", "Gap", "Pick", "RankedCatalog", "choose_picks", "gaps", "picks_for"]

PICKABLE_TIERS = frozenset({"L4", "L5"})

# Shares are floats (and the reference is a mean of float rows): a "gap" of a few ulps is noise,
# and a streamer whose whole mix is one category must never see that category as a gap.
_GAP_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Gap:
    """A category where the reference sells more (by share) than the streamer."""

    category: str
    own_share: float
    reference_share: float

    @property
    def difference(self) -> float:
        """How much more the reference sells of this category, by share."""
        return self.reference_share - self.own_share


def gaps(own: Mapping[str, float], reference: Mapping[str, float]) -> list[Gap]:
    """Every category where the reference share exceeds the own share, biggest difference first.

    Equal differences are ordered by category name, so the result is deterministic.
    """
    rows = []
    for category, reference_share in reference.items():
        own_share = own.get(category, 0.0)
        difference = reference_share - own_share
        if difference > _GAP_EPSILON:
            rows.append((-difference, category, float(own_share), float(reference_share)))
    rows.sort()
    return [Gap(category, own_share, reference_share) for _, category, own_share, reference_share in rows]


@dataclass(frozen=True, slots=True)
class Pick:
    """One suggested product and the gap it fills."""

    item: CatalogItem
    category: str
    own_share: float
    reference_share: float
    source: Source
    commission: float | None = None  # this streamer's exclusive rate (专属佣金), when they have one

    @property
    def rate(self) -> float:
        """The commission this streamer would really get on the pick."""
        return self.commission if self.commission is not None else self.item.commission_rate


def _rank_key(item: CatalogItem) -> tuple[int, float, str]:
    # L5 before L4, then score, then sku so equal scores still order the same way every time.
    return (-item.tier_rank, -item.score, item.sku)


def _pickable(item: CatalogItem) -> bool:
    return item.tier in PICKABLE_TIERS and not item.counterfeit


class RankedCatalog(Mapping[str, tuple[CatalogItem, ...]]):
    """Pickable goods per category (L4+, no counterfeits), best first.

    `choose_picks` accepts any category -> items mapping, but then filters and sorts the gap
    categories on every call; build one of these once per digest pass and reuse it for every
    streamer.
    """

    __slots__ = ("_by_category", "_by_sku")

    def __init__(self, catalog: Mapping[str, Iterable[CatalogItem]] | Iterable[CatalogItem]) -> None:
        grouped: dict[str, list[CatalogItem]] = {}
        if isinstance(catalog, Mapping):
            for category, items in catalog.items():
                grouped.setdefault(category, []).extend(item for item in items if _pickable(item))
        else:
            for item in catalog:
                if _pickable(item):
                    grouped.setdefault(item.category, []).append(item)
        self._by_category = {
            category: tuple(sorted(items, key=_rank_key)) for category, items in grouped.items()
        }
        # sku -> item per category, so a streamer's few exclusive rates are found without a scan.
        self._by_sku = {
            category: {item.sku: item for item in items} for category, items in self._by_category.items()
        }

    def find(self, category: str, sku: str) -> CatalogItem | None:
        """The pickable item `sku` listed under `category`, if any."""
        return self._by_sku.get(category, {}).get(sku)

    def __getitem__(self, category: str) -> tuple[CatalogItem, ...]:
        return self._by_category[category]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_category)

    def __len__(self) -> int:
        return len(self._by_category)


def _ranked(
    catalog: Mapping[str, Sequence[CatalogItem]], category: str, commission: Mapping[str, float]
) -> Sequence[CatalogItem]:
    """A category's pickable goods, best first, by the commission this streamer would really get.

    Within a tier, goods carrying an exclusive rate for this streamer (higher than the public one
    by construction) go first, highest rate first; the rest keep the public order.
    """
    if not isinstance(catalog, RankedCatalog):
        items = sorted((item for item in catalog.get(category, ()) if _pickable(item)), key=_rank_key)
        if commission and any(item.sku in commission for item in items):
            # Stable sort: only the offered goods move, each within its own tier.
            items.sort(
                key=lambda item: (-item.tier_rank, item.sku not in commission, -commission.get(item.sku, 0.0))
            )
        return items
    ranked = catalog.get(category, ())
    offered = [item for sku in commission if (item := catalog.find(category, sku)) is not None]
    if not offered:
        return ranked
    offered.sort(key=lambda item: (-item.tier_rank, -commission[item.sku], *_rank_key(item)[1:]))
    return _Promoted(ranked, offered)


class _Promoted(Sequence[CatalogItem]):
    """A ranked category with a few offered goods moved to the head of their tier, merged lazily.

    The walk in `_page` reads a category from the front and rarely past a few items, so the merge
    costs what is read, not the category's size (a digest pass does this for every streamer).
    """

    __slots__ = ("_base", "_buffer", "_moved", "_walk")

    def __init__(self, base: Sequence[CatalogItem], offered: Sequence[CatalogItem]) -> None:
        self._base = base
        self._moved = {item.sku for item in offered}
        self._buffer: list[CatalogItem] = []
        self._walk = self._merge(offered)

    def _merge(self, offered: Sequence[CatalogItem]) -> Iterator[CatalogItem]:
        at = 0
        for item in self._base:
            while at < len(offered) and offered[at].tier_rank >= item.tier_rank:
                yield offered[at]
                at += 1
            if item.sku not in self._moved:
                yield item
        yield from offered[at:]

    def __len__(self) -> int:
        return len(self._base)

    @overload
    def __getitem__(self, index: int) -> CatalogItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[CatalogItem]: ...

    def __getitem__(self, index: int | slice) -> CatalogItem | Sequence[CatalogItem]:
        if isinstance(index, slice) or index < 0:
            return list(self)[index]
        while len(self._buffer) <= index:
            item = next(self._walk, None)
            if item is None:
                raise IndexError(index)
            self._buffer.append(item)
        return self._buffer[index]


def choose_picks(
    gaps: Sequence[Gap],
    catalog: Mapping[str, Sequence[CatalogItem]],
    *,
    recent_skus: Collection[str] = (),
    not_interested: Collection[str] = (),
    count: int = 5,
    per_category: int = 2,
    skip: int = 0,
    source: Source = "peers",
    commission: Mapping[str, float] | None = None,
) -> list[Pick]:
    """Up to ``count`` L4+ goods from the biggest gaps, L5 first.

    Selection is **round-robin** over the gaps, biggest first: every gap category gives its best
    remaining item in turn, then a second round, up to ``per_category`` rounds, so one digest
    spans several categories. Within a category items go L5 before L4, then by score, then
    sku. Counterfeits, goods in ``recent_skus`` (sent in the last 14 days) and in
    ``not_interested`` never appear.

    ``skip`` pages through the same selection for 换一批: the result is selections
    ``skip .. skip+count`` (``per_category`` holds across pages, so pages together never repeat
    an item); fewer, or none, when the gaps run out. The returned page lists L5 before L4,
    keeping the selection order within a tier.

    ``commission`` (sku -> rate) is this streamer's exclusive rates: those goods rank first
    within their tier and their picks carry the rate.
    """
    return _page(
        [(lambda: gaps, source)],
        catalog,
        recent_skus=recent_skus,
        not_interested=not_interested,
        count=count,
        per_category=per_category,
        skip=skip,
        commission=commission or {},
    )


def picks_for(
    own: Mapping[str, float],
    reference: Reference,
    catalog: Mapping[str, Sequence[CatalogItem]],
    *,
    platform: Mapping[str, float] | None = None,
    recent_skus: Collection[str] = (),
    not_interested: Collection[str] = (),
    count: int = 5,
    per_category: int = 2,
    skip: int = 0,
    commission: Mapping[str, float] | None = None,
) -> tuple[list[Gap], list[Pick]]:
    """The gaps of ``own`` against ``reference``, and the picks that fill them (what `/picks` shows).

    With ``platform`` given and a peer reference, picks the peers' gaps cannot fill (a streamer
    who sells exactly what their peers sell has no peer gaps) are topped up from the gaps
    against the platform mix, as if `choose_picks` went on with those gaps (``source="platform"``,
    ``per_category`` counted across both). The gaps returned are the reference's.
    ``commission`` is the streamer's exclusive rates, as in `choose_picks`.
    """
    found = gaps(own, reference.mix)
    stages: list[tuple[Callable[[], Sequence[Gap]], Source]] = [(lambda: found, reference.source)]
    if platform is not None and reference.source == "peers":
        stages.append((lambda: gaps(own, platform), "platform"))
    chosen = _page(
        stages,
        catalog,
        recent_skus=recent_skus,
        not_interested=not_interested,
        count=count,
        per_category=per_category,
        skip=skip,
        commission=commission or {},
    )
    return found, chosen


def _page(
    stages: Sequence[tuple[Callable[[], Sequence[Gap]], Source]],
    catalog: Mapping[str, Sequence[CatalogItem]],
    *,
    recent_skus: Collection[str],
    not_interested: Collection[str],
    count: int,
    per_category: int,
    skip: int,
    commission: Mapping[str, float],
) -> list[Pick]:
    """Selections ``skip .. skip+count`` of the round-robin over each stage's gaps in turn, L5 first."""
    if count <= 0 or per_category <= 0 or skip < 0:
        return []
    wanted = skip + count
    chosen: list[Pick] = []
    taken: set[str] = set()  # a product listed under two categories is still picked once
    walked: set[str] = set()
    for stage_gaps, source in stages:
        if len(chosen) == wanted:
            break
        # A category walked in an earlier stage is used up (that stage fell short), so each
        # category belongs to one stage and `per_category` holds across stages.
        open_gaps = []
        for gap in stage_gaps():  # computed only when an earlier stage fell short
            if gap.category not in walked:
                walked.add(gap.category)
                open_gaps.append(gap)
        goods: dict[str, Sequence[CatalogItem]] = {}
        position: dict[str, int] = {}
        for _round in range(per_category):
            still_open = []
            for gap in open_gaps:
                category = gap.category
                if category not in goods:  # ranked only when first reached
                    goods[category] = _ranked(catalog, category, commission)
                items, at = goods[category], position.get(category, 0)
                item = None
                while at < len(items):
                    candidate = items[at]
                    at += 1
                    sku = candidate.sku
                    if sku not in taken and sku not in recent_skus and sku not in not_interested:
                        item = candidate
                        break
                position[category] = at
                if item is None:
                    continue
                taken.add(item.sku)
                chosen.append(
                    Pick(
                        item,
                        category,
                        gap.own_share,
                        gap.reference_share,
                        source,
                        commission.get(item.sku),
                    )
                )
                still_open.append(gap)
                if len(chosen) == wanted:
                    break
            if len(chosen) == wanted:
                break
            open_gaps = still_open

    page = chosen[skip:wanted]
    page.sort(key=lambda pick: -pick.item.tier_rank)  # stable: selection order within a tier
    return page
