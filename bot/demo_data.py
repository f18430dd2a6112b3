"""A deterministic demo catalog: products and streamers that look like a real live-commerce platform.

The words (brands, product lines, books, shops, nicknames) live in bot/data/demo_catalog.toml;
this module turns them into rows. Everything comes from a seeded `random.Random` (never the
clock), so the same seed gives the same rows. `demo_products` / `demo_streamers` give import rows
(the columns of PRODUCT.md); `demo_catalog_items` grades product rows into `CatalogItem`s. The
large synthetic catalogs for benchmarks are built from the same vocabulary in benchmarks/catalog.py.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.catalog import CatalogItem
from core.grading import INDICATORS, Indicators, grade
from core.policy import default_policy

DEFAULT_SEED = 20251111
CROSS_BORDER, LOCAL_LIFE, VIRTUAL = "跨境", "本地生活", "虚拟"
TAG_CATEGORIES = (CROSS_BORDER, LOCAL_LIFE, VIRTUAL)  # categories whose products also carry them as a tag
VOCABULARY_PATH = Path(__file__).with_name("data") / "demo_catalog.toml"

_EPOCH = date(2025, 1, 6)
_LISTING_DAYS = 330
_NEW_DAYS = 30

Shop = tuple[str, str]  # (name, merchant code); the code is the prefix of the shop's skus


@dataclass(frozen=True, slots=True)
class Brand:
    field: str  # the catalog's brand value, e.g. "Dyson/戴森"
    forms: tuple[str, ...]  # how titles write it
    weights: tuple[float, ...]
    awareness: float


@dataclass(frozen=True, slots=True)
class Template:
    """One brand's take on a product line: the words a title is drawn from."""

    category: str
    noun: str
    brand_key: str
    brand: Brand
    series: tuple[str, ...]
    attrs: tuple[tuple[str, ...], ...]
    specs: tuple[str, ...]
    price: tuple[float, float]  # this brand's range for the line (the line's own when it names none)
    book: bool = False
    series_prices: tuple[tuple[str, tuple[float, float]], ...] = ()  # a series' own range, when it has one

    def price_of(self, series: str) -> tuple[float, float]:
        """The price range of one series of this line: its own, else the brand's, else the line's."""
        for name, price in self.series_prices:
            if name == series:
                return price
        return self.price


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The demo vocabulary as the generators use it."""

    category_weights: dict[str, int]  # in the order categories first appear
    brands: dict[str, Brand]  # by key: the Chinese name when the brand has one
    templates: dict[str, tuple[Template, ...]]  # by category
    flagships: dict[str, Shop]  # by brand key
    category_shops: dict[str, tuple[Shop, ...]]
    big_sellers: tuple[Shop, ...]
    grey_sellers: tuple[Shop, ...]
    no_big_sellers: frozenset[str]  # categories big and grey sellers stay out of
    nick_heads: tuple[str, ...]
    nick_tails: tuple[str, ...]
    extra_specs: tuple[str, ...]  # only the benchmark catalogs use these


class VocabularyError(ValueError):
    """The demo vocabulary file names something it does not define."""


def _has_han(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _brand(name: str, awareness: float) -> tuple[str, Brand]:
    """A brand value ("Dyson/戴森") → its key and how titles write it."""
    parts = name.split("/")
    han = [p for p in parts if _has_han(p)]
    key = han[0] if han else parts[0]
    forms: tuple[str, ...]
    weights: tuple[float, ...]
    if len(parts) == 2 and parts[0] != key:  # a foreign brand: "Dyson 戴森", "戴森", "Dyson"
        forms, weights = (f"{parts[0]} {parts[1]}", key, parts[0]), (0.45, 0.35, 0.2)
    elif len(parts) == 2:  # a Chinese brand with a Latin name: mostly written in Chinese
        forms, weights = (f"{parts[0]} {parts[1]}", key), (0.3, 0.7)
    else:
        forms, weights = (name,), (1.0,)
    return key, Brand(name, forms, weights, float(awareness))


def _shops(entries: Iterable[Mapping[str, str]]) -> tuple[Shop, ...]:
    return tuple((e["name"], e["code"]) for e in entries)


def _known(table: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise VocabularyError(f"{VOCABULARY_PATH.name}: {what} {key!r} is not defined") from None


def _range(value: Any, what: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not 0 < lo <= hi:
        raise VocabularyError(
            f"{VOCABULARY_PATH.name}: the price range of {what} is not low..high: {value!r}"
        )
    return lo, hi


def parse_vocabulary(data: Mapping[str, Any]) -> Vocabulary:
    """Build the vocabulary from the mapping read from demo_catalog.toml."""
    weights = {str(c): int(w) for c, w in data["categories"].items()}
    brands = dict(_brand(name, awareness) for name, awareness in data["brands"].items())
    templates: dict[str, list[Template]] = {c: [] for c in weights}
    for line in data["products"]:
        shelf = _known(templates, line["category"], "category")
        attrs = tuple(tuple(group) for group in line["attributes"])
        line_price = _range(line["price"], line["noun"])
        prices = {
            name: _range(value, f"{line['noun']} {name}") for name, value in line.get("prices", {}).items()
        }
        named = set(line["brands"]) | {s for series in line["brands"].values() for s in series}
        for key, series in line["brands"].items():
            shelf.append(
                Template(
                    category=line["category"],
                    noun=line["noun"],
                    brand_key=key,
                    brand=_known(brands, key, "brand"),
                    series=tuple(series) or ("",),  # no series: the title goes without one
                    attrs=attrs,
                    specs=tuple(line["specs"]),
                    price=prices.get(key, line_price),
                    series_prices=tuple((s, prices[s]) for s in series if s in prices),
                )
            )
        for name in prices:
            if name not in named:
                raise VocabularyError(
                    f"{VOCABULARY_PATH.name}: {line['noun']} prices {name!r}, none of its brands or series"
                )
    books = data["books"]
    shelf = _known(templates, books["category"], "category")
    editions = tuple(tuple(group) for group in books["editions"])
    lo, hi = books["price"]
    for book in books["titles"]:  # 书名 作者 版本 出版社: the title is the noun, the author the series
        shelf.append(
            Template(
                category=books["category"],
                noun=book["title"],
                brand_key=book["publisher"],
                brand=_known(brands, book["publisher"], "brand"),
                series=(book["author"],),
                attrs=editions,
                specs=("",),
                price=(lo, hi),
                book=True,
            )
        )
    shops = data["shops"]
    for key in shops["flagships"]:
        _known(brands, key, "brand")
    return Vocabulary(
        category_weights=weights,
        brands=brands,
        templates={c: tuple(ts) for c, ts in templates.items()},
        flagships={key: (s["name"], s["code"]) for key, s in shops["flagships"].items()},
        category_shops={c: _shops(_known(shops["categories"], c, "category")) for c in weights},
        big_sellers=_shops(shops["big_sellers"]),
        grey_sellers=_shops(shops["grey_sellers"]),
        no_big_sellers=frozenset(shops["no_big_sellers"]),
        nick_heads=tuple(data["nicknames"]["heads"]),
        nick_tails=tuple(data["nicknames"]["tails"]),
        extra_specs=tuple(data["titles"]["extra_specs"]),
    )


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The demo vocabulary, read once from bot/data/demo_catalog.toml."""
    with VOCABULARY_PATH.open("rb") as fh:
        return parse_vocabulary(tomllib.load(fh))


def _title(rng: random.Random, t: Template) -> tuple[str, str]:
    """A title drawn from the template, and the series it names (its price range may be its own)."""
    brand = rng.choices(t.brand.forms, t.brand.weights)[0]
    if t.book:  # 书名 作者 版本 出版社
        edition = " ".join(rng.choice(group) for group in t.attrs if rng.random() < 0.8)
        return " ".join(p for p in (t.noun, t.series[0], edition, brand) if p), t.series[0]
    series = rng.choice(t.series)
    parts = [brand, series]
    for group in t.attrs:
        if rng.random() < 0.85:
            parts.append(rng.choice(group))
    parts.append(t.noun)
    if rng.random() < 0.9:
        parts.append(rng.choice(t.specs))
    return " ".join(p for p in parts if p), series


def _price(rng: random.Random, lo: float, hi: float) -> float:
    # log-uniform, ending in .9 like shelf prices
    p = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    return round(max(0.9, round(p) - 0.1), 2) if p >= 10 else round(p, 1)


def _clip(x: float, lo: float, hi: float) -> float:
    return lo if x < lo else hi if x > hi else x


def _indicators(rng: random.Random, q: float, awareness: float, flagship: bool, counterfeit: bool) -> dict:
    """The 11 indicators and the gate flags of a product of latent quality q (0–1)."""
    g = rng.gauss
    if counterfeit:
        q = min(q, 0.35)
    return {
        "brand_authorized": 0 if counterfeit else int(flagship or rng.random() < 0.25 + 0.7 * q),
        "brand_awareness": round(_clip(awareness * (0.55 + 0.5 * q) + g(0, 6), 0, 100), 1),
        "price_index": round(_clip(1.45 - 0.8 * q + g(0, 0.08), 0.55, 2.2), 2),
        "lowest_price_ratio": round(_clip(1.32 - 0.4 * q + g(0, 0.04), 0.88, 1.6), 3),
        "commission_rate": round(_clip(0.03 + 0.34 * q + g(0, 0.035), 0.01, 0.5), 3),
        "active_streamers_30d": int(_clip(math.exp(q * 6.8 + g(0, 0.45)) - 1, 0, 5000)),
        "shop_rating": round(_clip(3.2 + 1.85 * q + g(0, 0.1), 2.5, 5.0), 2),
        "refund_rate": round(_clip(0.3 - 0.3 * q + g(0, 0.015), 0.002, 0.45), 3),
        "dispute_rate": round(_clip(0.07 - 0.07 * q + g(0, 0.003), 0.0, 0.12), 4),
        "gmv_30d": round(10 ** _clip(2.6 + 5.0 * q + g(0, 0.3), 1.5, 8.0), 2),
        "conversion_rate": round(_clip(0.002 + 0.11 * q + g(0, 0.008), 0.0005, 0.25), 4),
        "factory_verified": int(not counterfeit and rng.random() < 0.2 + 0.78 * q),
        "counterfeit_flag": int(counterfeit),
    }


def _merchant(rng: random.Random, t: Template) -> tuple[str, str, bool]:
    vocab = vocabulary()
    roll = rng.random()
    if t.brand_key in vocab.flagships and roll < 0.55:
        name, code = vocab.flagships[t.brand_key]
        return name, code, True
    if t.category not in vocab.no_big_sellers and roll > 0.85:
        name, code = rng.choice(vocab.big_sellers)
        return name, code, False
    name, code = rng.choice(vocab.category_shops[t.category])
    return name, code, False


def demo_products(n: int = 3200, seed: int = DEFAULT_SEED) -> list[dict]:
    """`n` product import rows (the product columns of PRODUCT.md), the same for the same seed."""
    rng = random.Random(seed)
    vocab = vocabulary()
    templates = vocab.templates
    cats = list(vocab.category_weights)
    weights = [vocab.category_weights[c] for c in cats]
    brand_bias = {key: rng.gauss(0, 0.08) for key in sorted(vocab.brands)}
    seen_titles: set[str] = set()
    counters: dict[str, int] = {}
    rows: list[dict] = []
    # well-known brands list more products
    popularity = {c: [(t.brand.awareness / 100) ** 5 for t in ts] for c, ts in templates.items()}
    for i in range(n):
        # every category appears early, then by weight
        category = cats[i] if i < len(cats) else rng.choices(cats, weights)[0]
        for _attempt in range(6):
            t = rng.choices(templates[category], popularity[category])[0]
            title, series = _title(rng, t)
            if title not in seen_titles:
                break
        seen_titles.add(title)
        counterfeit = category not in vocab.no_big_sellers and rng.random() < 0.012
        if counterfeit:
            name, code = rng.choice(vocab.grey_sellers)
            flagship = False
        else:
            name, code, flagship = _merchant(rng, t)
        counters[code] = counters.get(code, 0) + 1
        sku = f"{code}-{counters[code]:05d}"
        quality = 0.15 + 0.8 * rng.betavariate(3.0, 2.6) + brand_bias[t.brand_key] + (0.06 if flagship else 0)
        q = _clip(quality, 0, 1)
        listed = _EPOCH + timedelta(days=rng.randrange(_LISTING_DAYS))
        tags: list[str] = []
        if category in TAG_CATEGORIES:
            tags.append(category)
        if rng.random() < 0.12:
            tags.append("官方补贴")
        if (_EPOCH + timedelta(days=_LISTING_DAYS) - listed).days <= _NEW_DAYS:
            tags.append("新品")
        ind = _indicators(rng, q, t.brand.awareness, flagship, counterfeit)
        row = {
            "sku": sku,
            "title": title,
            "brand": t.brand.field,
            "category": category,
            "merchant": name,
            "price": _price(rng, *t.price_of(series)),
            **ind,
            "image_url": f"https://img.example.com/xuanpin/{sku.lower()}.jpg",
            "tags": ";".join(tags),
            "listed_at": listed.isoformat(),
        }
        rows.append(row)
    return rows


PRODUCT_COLUMNS: tuple[str, ...] = (
    *("sku", "title", "brand", "category", "merchant", "price"),
    *INDICATORS,
    *("factory_verified", "counterfeit_flag", "image_url", "tags", "listed_at"),
)
STREAMER_COLUMNS: tuple[str, ...] = ("telegram_id", "name", "category", "gmv_30d")


def demo_streamers(n: int = 240, seed: int = DEFAULT_SEED) -> list[dict]:
    """Streamer rows (`telegram_id, name, category, gmv_30d`), one per streamer and category."""
    rng = random.Random(seed + 1)
    vocab = vocabulary()
    cats = list(vocab.category_weights)
    weights = [vocab.category_weights[c] for c in cats]
    rows: list[dict] = []
    names: set[str] = set()
    for i in range(n):
        name = rng.choice(vocab.nick_heads) + rng.choice(vocab.nick_tails)
        while name in names:
            name = f"{name}{rng.randint(2, 99)}"
        names.add(name)
        telegram_id = 700_000_001 + i * 7_919
        kind = ("specialist", "mix", "generalist")[i % 3]
        if kind == "specialist":
            picked = [rng.choices(cats, weights)[0]]
            shares = [rng.uniform(0.75, 1.0)]
            if shares[0] < 0.97:
                other = rng.choice([c for c in cats if c != picked[0]])
                picked.append(other)
                shares.append(1.0 - shares[0])
        else:
            k = rng.randint(2, 3) if kind == "mix" else rng.randint(5, 9)
            picked = []
            while len(picked) < k:
                c = rng.choices(cats, weights)[0]
                if c not in picked:
                    picked.append(c)
            raw = [rng.gammavariate(2.0 if kind == "mix" else 1.2, 1.0) for _ in picked]
            shares = [r / sum(raw) for r in raw]
        total = 10 ** rng.uniform(4.0, 6.8)
        for category, share in zip(picked, shares, strict=True):
            rows.append(
                {
                    "telegram_id": telegram_id,
                    "name": name,
                    "category": category,
                    "gmv_30d": round(total * share, 2),
                }
            )
    return rows


def demo_catalog_items(rows: Iterable[Mapping] | None = None, policy=None) -> list[CatalogItem]:
    """Grade product rows (default: `demo_products()`) into `CatalogItem`s with ids 1..n."""

    policy = policy or default_policy()
    items: list[CatalogItem] = []
    for i, row in enumerate(demo_products() if rows is None else rows, 1):
        raw_tags = row.get("tags") or ""
        tag_list = raw_tags.split(";") if isinstance(raw_tags, str) else raw_tags
        tags = tuple(t.strip() for t in tag_list if t.strip())
        g = grade(Indicators.from_mapping(row), policy, tags=tags)
        commission = row["commission_rate"]
        if isinstance(commission, str):  # "25%" is accepted too
            text = commission.strip()
            commission = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        items.append(
            CatalogItem(
                id=i,
                sku=str(row["sku"]),
                title=str(row["title"]),
                brand=str(row["brand"]),
                category=str(row["category"]),
                merchant=str(row["merchant"]),
                price=float(row["price"]),
                commission_rate=float(commission),
                tier=g.tier,
                score=g.score,
                counterfeit=bool(int(float(row.get("counterfeit_flag", 0) or 0))),
                badges=g.badges,
                tags=tags,
                dimensions=dict(g.dimensions),
                image_url=str(row.get("image_url") or "") or None,
            )
        )
    return items


def product_nouns() -> frozenset[str]:
    """The product nouns the demo vocabulary builds titles around (牙膏, 无线吸尘器, book titles...)."""
    return frozenset(t.noun for ts in vocabulary().templates.values() for t in ts)


def brand_names(field: str) -> tuple[str, ...]:
    """The names a brand value carries: "Dyson/戴森" → ("Dyson", "戴森")."""
    return tuple(p.strip() for p in field.split("/") if p.strip())


def demo_merchants() -> dict[str, str]:
    """Every demo shop and its short merchant code (also the prefix of its skus)."""
    vocab = vocabulary()
    shops = list(vocab.flagships.values()) + [s for group in vocab.category_shops.values() for s in group]
    return dict(shops + list(vocab.big_sellers) + list(vocab.grey_sellers))
