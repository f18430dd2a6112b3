"""Large synthetic graded catalogs for the benchmarks (100k–1M items), built from the demo vocabulary.

Titles come from bot/data/demo_catalog.toml with pack counts, model years and sizes mixed in, so
the vocabulary grows with `n` the way a real catalog's does. Scores come from a quick formula
rather than the grading engine; the tiers they earn come from the policy's thresholds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from bot.demo_data import DEFAULT_SEED, TAG_CATEGORIES, Template, vocabulary
from core.catalog import CatalogItem
from core.grading import tier_for_score
from core.policy import Policy, default_policy

_SHARED_DIMENSIONS: dict[str, float] = {}  # benchmark items carry no dimension scores; one shared empty dict


def generated_catalog(
    n: int, seed: int = DEFAULT_SEED, policy: Policy | None = None
) -> Iterator[CatalogItem]:
    """`n` synthetic graded items (ids 1..n), streamed; 1M take a few seconds.

    Tiers follow `policy`'s thresholds (default: the default policy); counterfeits are L0.
    """
    policy = policy or default_policy()
    vocab = vocabulary()
    rng = random.Random(seed)
    rand = rng.random
    flat: list[Template] = []
    for category, ts in vocab.templates.items():
        flat.extend(ts * vocab.category_weights[category])
    nt = len(flat)
    extra_specs = vocab.extra_specs
    merchants = [m for shops in vocab.category_shops.values() for m, _ in shops]
    merchants += [m for m, _ in vocab.big_sellers]
    nm = len(merchants)
    tags_for = {c: ((c,) if c in TAG_CATEGORIES else ()) for c in vocab.category_weights}
    empty: tuple[str, ...] = ()
    for i in range(1, n + 1):
        t = flat[int(rand() * nt)]
        forms = t.brand.forms
        parts = [forms[int(rand() * len(forms))], t.series[int(rand() * len(t.series))]]
        for group in t.attrs:
            if rand() < 0.85:
                parts.append(group[int(rand() * len(group))])
        parts.append(t.noun)
        r = rand()
        if r < 0.85:
            parts.append(t.specs[int(rand() * len(t.specs))])
        if r > 0.5:
            parts.append(extra_specs[int(rand() * len(extra_specs))])
        if r > 0.8:
            parts.append(f"×{2 + int(rand() * 11)}")
        if r < 0.2:
            parts.append(f"{int(10 + rand() * 990)}{'g' if r < 0.1 else 'ml'}")
        title = " ".join(p for p in parts if p)
        score = 15.0 + 82.0 * (rand() * 0.6 + rand() * 0.4)
        counterfeit = rand() < 0.01
        lo, hi = t.price
        yield CatalogItem(
            id=i,
            sku=f"G{i:08d}",
            title=title,
            brand=t.brand.field,
            category=t.category,
            merchant=merchants[int(rand() * nm)],
            price=round(lo + (hi - lo) * rand(), 1),
            commission_rate=round(0.02 + 0.3 * rand(), 3),
            tier="L0" if counterfeit else tier_for_score(score, policy),
            score=round(score, 2),
            counterfeit=counterfeit,
            badges=empty,
            tags=tags_for[t.category],
            dimensions=_SHARED_DIMENSIONS,
        )
