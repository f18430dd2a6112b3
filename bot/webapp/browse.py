"""Catalog browsing for the Mini App: filter, sort and page the live search index's arrays.

Everything runs on numpy arrays built once per index, so a filtered page at 100,000 goods costs a
few vectorised passes, not a SQL scan.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from core.catalog import TIERS, CatalogItem
from core.search import SearchIndex

SORTS = ("rank", "price_asc", "price_desc", "commission_desc")
PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    tiers: tuple[str, ...] = ()
    min_price: float | None = None
    max_price: float | None = None
    min_commission: float | None = None  # a rate, 0.2 for 20%
    category: str | None = None
    badges: tuple[str, ...] = ()
    sort: str = "rank"
    page: int = 0
    per_page: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class CatalogPage:
    total: int
    items: list[CatalogItem]


@dataclass(frozen=True)
class _Facets:
    """Per-index arrays the search index does not keep: category codes and badge bit masks."""

    categories: tuple[str, ...]  # most goods first
    category_code: np.ndarray
    badge_bits: dict[str, int]
    badge_mask: np.ndarray


_cache: tuple[SearchIndex, _Facets] | None = None
_cache_lock = threading.Lock()


def facets(index: SearchIndex) -> _Facets:
    """The facets of `index`, built once per index (the live index is swapped, never changed)."""
    global _cache
    with _cache_lock:
        if _cache is not None and _cache[0] is index:
            return _cache[1]
        items = index.items
        counts: dict[str, int] = {}
        for it in items:
            counts[it.category] = counts.get(it.category, 0) + 1
        categories = tuple(sorted(counts, key=lambda c: (-counts[c], c)))
        code = {c: i for i, c in enumerate(categories)}
        badge_bits: dict[str, int] = {}
        masks = np.zeros(len(items), dtype=np.int64)
        for i, it in enumerate(items):
            bits = 0
            for b in it.badges:
                bit = badge_bits.get(b)
                if bit is None and len(badge_bits) < 62:
                    bit = badge_bits[b] = 1 << len(badge_bits)
                bits |= bit or 0
            masks[i] = bits
        category_code = np.fromiter((code[it.category] for it in items), dtype=np.int32, count=len(items))
        built = _Facets(categories, category_code, badge_bits, masks)
        _cache = (index, built)
        return built


def browse(index: SearchIndex, query: CatalogQuery, *, include_hidden: bool = False) -> CatalogPage:
    """One page of the goods matching `query`; L0 and counterfeit goods only with `include_hidden`."""
    f = facets(index)
    n = len(index)
    mask = np.ones(n, dtype=bool) if include_hidden else index.visible.copy()
    if query.tiers:
        wanted = [TIERS.index(t) for t in query.tiers if t in TIERS]
        mask &= np.isin(index.tier, np.array(wanted, dtype=np.int8))
    if query.min_price is not None:
        mask &= index.price >= query.min_price
    if query.max_price is not None:
        mask &= index.price <= query.max_price
    if query.min_commission is not None:
        mask &= index.commission >= query.min_commission - 1e-9
    if query.category:
        code = f.categories.index(query.category) if query.category in f.categories else -1
        mask &= f.category_code == code
    if query.badges:
        need = 0
        for b in query.badges:
            if b not in f.badge_bits:
                return CatalogPage(0, [])
            need |= f.badge_bits[b]
        mask &= (f.badge_mask & need) == need
    if query.sort == "rank":
        order = index.rank_order[mask[index.rank_order]]
    else:
        chosen = np.flatnonzero(mask)
        key = index.commission if query.sort == "commission_desc" else index.price
        values = key[chosen] if query.sort == "price_asc" else -key[chosen]
        # Ties keep the rank order (higher static key first); lexsort's last key leads.
        order = chosen[np.lexsort((-index.static_key[chosen], values))]
    start = max(query.page, 0) * query.per_page
    window = order[start : start + query.per_page]
    return CatalogPage(int(order.size), [index.items[int(i)] for i in window])
