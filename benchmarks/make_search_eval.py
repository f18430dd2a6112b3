"""Writes the search evaluation set (benchmarks/search_eval.jsonl) over the demo catalog.

    .venv/bin/python benchmarks/make_search_eval.py [--seed 7] [--per-kind 16] [--out FILE]

Deterministic. Each case is what a streamer would type for a product they have in mind, built
from a visible demo product: its brand, its product noun (牙膏, 无线吸尘器) and its attributes,
then typed with a typo, in traditional characters, in pinyin and so on. The expected skus are
every visible product that fits that intent (same brand and noun, plus the attribute when the
query names one), so a query is not tied to one arbitrary sku. For brand-only and
category-only queries a hit is a top result of that brand/category; for homophone traps, a top
result whose title holds the typed word (经典, not its homophone 景点).

`realistic_queries(items, n, seed)` reuses the same builders for the speed benchmark.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.demo_data import brand_names, demo_catalog_items, demo_products, product_nouns  # noqa: E402
from core.catalog import CatalogItem  # noqa: E402

KINDS = (
    "exact-name", "typo-wrong-char", "typo-homophone-char", "typo-missing-char", "latin-misspelling",
    "traditional", "fullwidth-latin", "pinyin-full", "pinyin-spaced", "pinyin-initials", "partial-word",
    "reordered", "brand-only", "category-only", "mixed-latin-cjk", "homophone-trap",
)  # fmt: skip
# Words with a homophone elsewhere in the demo catalog (经典 jingdian ↔ 景点 jingdian, ...).
HOMOPHONE_WORDS = (
    "经典", "景点", "保湿", "宝石", "精华", "净化", "杯子", "被子", "蛋黄", "淡黄",
    "米粉", "蜜粉", "纸巾", "织锦", "电池", "滇池", "细面", "洗面", "柿子", "狮子",
)  # fmt: skip
DEFAULT_OUT = Path(__file__).with_name("search_eval.jsonl")


def _has_han(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


@lru_cache(maxsize=1)
def common_han() -> str:
    """The 3,755 level-1 (most common) characters of GB 2312: what a typo plausibly turns into."""
    out = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            if hi == 0xD7 and lo > 0xF9:
                break
            out.append(bytes([hi, lo]).decode("gb2312"))
    return "".join(out)


@lru_cache(maxsize=100_000)
def pinyin(word: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    return tuple(lazy_pinyin(word, style=Style.NORMAL))


@lru_cache(maxsize=1)
def _by_sound() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ch in common_han():
        out.setdefault(pinyin(ch)[0], []).append(ch)
    return out


@lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def fullwidth(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@dataclass(frozen=True)
class Parts:
    """A product title taken apart the way a streamer remembers it."""

    item: CatalogItem
    words: tuple[str, ...]
    noun: str
    brand_han: str | None
    brand_latin: str | None
    attrs: tuple[str, ...]


def parts_of(item: CatalogItem, nouns: frozenset[str]) -> Parts | None:
    words = tuple(item.title.split())
    noun = next((w for w in words if w in nouns), None)
    if noun is None:
        return None
    names = brand_names(item.brand)
    han = next((n for n in names if _has_han(n)), None)
    latin = next((n for n in names if not _has_han(n)), None)
    skip = set(names) | {noun}
    attrs = tuple(w for w in words if w not in skip and _has_han(w) and not any(c.isdigit() for c in w))
    return Parts(item, words, noun, han, latin, attrs)


class Catalog:
    """Visible items and the lookups the expected sets need."""

    def __init__(self, items: Sequence[CatalogItem]) -> None:
        self.visible = [it for it in items if it.tier != "L0" and not it.counterfeit]
        self.nouns = product_nouns()
        self.parts = [p for p in (parts_of(it, self.nouns) for it in self.visible) if p is not None]
        self.word_sets = {it.sku: set(it.title.split()) for it in self.visible}

    def fitting(
        self, brand: str, noun: str | None, attr: str | None = None, typed: str | None = None
    ) -> list[str]:
        """Visible items of `brand` with `noun` as a title word, `attr` and `typed` anywhere in the title."""
        return [
            it.sku for it in self.visible
            if it.brand == brand
            and (noun is None or noun in self.word_sets[it.sku])
            and (attr is None or attr in it.title)
            and (typed is None or typed in it.title)
        ]  # fmt: skip

    def same_title(self, title: str) -> list[str]:
        key = " ".join(title.split())
        return [it.sku for it in self.visible if " ".join(it.title.split()) == key]


@dataclass(frozen=True)
class Case:
    kind: str
    query: str
    match: str  # "sku" | "brand" | "category" | "word"
    target: str  # the brand, category or word for those matches; the intent otherwise
    expected: tuple[str, ...]

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "query": self.query,
            "match": self.match,
            "target": self.target,
            "expected": list(self.expected),
        }


Builder = Callable[[random.Random, Parts, Catalog], Case | None]


def _brand_noun(
    kind: str, query: str, p: Parts, cat: Catalog, attr: str | None = None, typed: str | None = None
) -> Case | None:
    """A case whose intent is the brand and the noun (plus `attr`), or, for a part of the noun as
    typed, any of the brand's items holding that part (三只松鼠 坚果 fits 坚果礼盒 and 每日坚果)."""
    expected = cat.fitting(p.item.brand, None if typed else p.noun, attr, typed)
    if not expected:
        return None
    intent = " ".join(x for x in (p.brand_han or p.brand_latin, attr, typed or p.noun) if x)
    return Case(kind, query, "sku", intent, tuple(expected))


def _join(rng: random.Random, a: str, b: str) -> str:
    return f"{a} {b}" if rng.random() < 0.6 else f"{a}{b}"


def _exact(rng, p, cat):
    return Case("exact-name", p.item.title, "sku", p.item.title, tuple(cat.same_title(p.item.title)))


def _typo(rng: random.Random, p: Parts, cat: Catalog, homophone: bool) -> Case | None:
    if not p.brand_han:
        return None
    words = [p.brand_han, p.noun]
    which = rng.randrange(2)
    word = words[which]
    if len(word) < 2 or not _has_han(word):
        return None
    pos = rng.randrange(len(word))
    ch = word[pos]
    sound = pinyin(ch)[0]
    if homophone:
        pool = [c for c in _by_sound().get(sound, ()) if c != ch]
    else:
        pool = [c for c in common_han() if pinyin(c)[0] != sound]
    if not pool:
        return None
    words[which] = word[:pos] + rng.choice(pool) + word[pos + 1 :]
    kind = "typo-homophone-char" if homophone else "typo-wrong-char"
    return _brand_noun(kind, _join(rng, *words), p, cat)


def _missing(rng, p, cat):
    if not p.brand_han:
        return None
    words = [p.brand_han, p.noun]
    long_ones = [i for i, w in enumerate(words) if len(w) >= 3 and _has_han(w)]
    if not long_ones:
        return None
    which = rng.choice(long_ones)
    word = words[which]
    pos = rng.randrange(len(word))
    words[which] = word[:pos] + word[pos + 1 :]
    return _brand_noun("typo-missing-char", _join(rng, *words), p, cat)


def _misspell(rng: random.Random, word: str) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    op = rng.choice(("drop", "swap", "double", "replace"))
    i = rng.choice(letters[1:] or letters)
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    near = {"a": "e", "e": "a", "i": "y", "o": "u", "u": "o", "y": "i", "s": "z", "n": "m", "c": "k"}
    return word[:i] + near.get(word[i].lower(), "e") + word[i + 1 :]


def _latin_brand(p: Parts) -> str | None:
    latin = p.brand_latin
    if not latin or len(latin) < 4 or not any(c.isalpha() for c in latin):
        return None
    return latin


def _latin_typo(rng, p, cat):
    latin = _latin_brand(p)
    if latin is None:
        return None
    typo = _misspell(rng, latin.lower() if rng.random() < 0.7 else latin)
    if typo.lower() == latin.lower():
        return None
    return _brand_noun("latin-misspelling", f"{typo} {p.noun}", p, cat)


def _traditional(rng, p, cat):
    if not p.brand_han:
        return None
    attr = rng.choice(p.attrs) if p.attrs and rng.random() < 0.5 else None
    simplified = " ".join(x for x in (p.brand_han, attr, p.noun) if x)
    trad = _s2t().convert(simplified)
    if trad == simplified:
        return None
    return _brand_noun("traditional", trad, p, cat, attr)


def _fullwidth(rng, p, cat):
    latin = _latin_brand(p)
    if latin is None:
        return None
    shown = latin.upper() if rng.random() < 0.5 else latin
    return _brand_noun("fullwidth-latin", f"{fullwidth(shown)} {p.noun}", p, cat)


def _pinyin_full(rng, p, cat):
    if not p.brand_han:
        return None
    words = ["".join(pinyin(w)) for w in (p.brand_han, p.noun)]
    return _brand_noun("pinyin-full", " ".join(words) if rng.random() < 0.6 else "".join(words), p, cat)


def _pinyin_spaced(rng, p, cat):
    if not p.brand_han:
        return None
    return _brand_noun("pinyin-spaced", " ".join(pinyin(p.brand_han) + pinyin(p.noun)), p, cat)


def _initials(rng, p, cat):
    if not p.brand_han:
        return None
    words = ["".join(s[0] for s in pinyin(w)) for w in (p.brand_han, p.noun)]
    return _brand_noun("pinyin-initials", " ".join(words) if rng.random() < 0.5 else "".join(words), p, cat)


def _partial(rng, p, cat):
    latin = _latin_brand(p)
    if latin is not None and rng.random() < 0.4:
        cut = rng.randint(3, max(3, len(latin) - 1))
        if cut < len(latin):
            return _brand_noun("partial-word", f"{latin[:cut].lower()} {p.noun}", p, cat)
    if not p.brand_han or len(p.noun) < 3:
        return None
    cut = rng.randint(2, len(p.noun) - 1)
    start = 0 if rng.random() < 0.6 else len(p.noun) - cut  # 吸尘器 → 吸尘 or 尘器
    typed = p.noun[start : start + cut]
    return _brand_noun("partial-word", f"{p.brand_han} {typed}", p, cat, typed=typed)


def _reordered(rng, p, cat):
    if not p.brand_han or not p.attrs:
        return None
    attr = rng.choice(p.attrs)
    words = [p.noun, attr, p.brand_han]
    rng.shuffle(words)
    if words[-1] == p.noun:  # titles end with the noun; put it elsewhere
        words = [words[-1], *words[:-1]]
    return _brand_noun("reordered", " ".join(words), p, cat, attr)


def _mixed(rng, p, cat):
    latin = _latin_brand(p)
    if latin is None:
        return None
    shown = latin.lower().replace(" ", "") if rng.random() < 0.7 else latin
    return _brand_noun("mixed-latin-cjk", f"{shown}{p.noun}", p, cat)


def _brand_only(rng, p, cat):
    names = [n for n in (p.brand_han, p.brand_latin) if n]
    name = rng.choice(names)
    if not _has_han(name):
        name = name.lower() if rng.random() < 0.5 else name
    expected = [it.sku for it in cat.visible if it.brand == p.item.brand]
    return Case("brand-only", name, "brand", p.item.brand, tuple(expected))


_BUILDERS: dict[str, Builder] = {
    "exact-name": _exact,
    "typo-wrong-char": lambda rng, p, cat: _typo(rng, p, cat, homophone=False),
    "typo-homophone-char": lambda rng, p, cat: _typo(rng, p, cat, homophone=True),
    "typo-missing-char": _missing,
    "latin-misspelling": _latin_typo,
    "traditional": _traditional,
    "fullwidth-latin": _fullwidth,
    "pinyin-full": _pinyin_full,
    "pinyin-spaced": _pinyin_spaced,
    "pinyin-initials": _initials,
    "partial-word": _partial,
    "reordered": _reordered,
    "mixed-latin-cjk": _mixed,
    "brand-only": _brand_only,
}


def _category_cases(cat: Catalog) -> list[Case]:
    titles = " ".join(it.title for it in cat.visible)
    out: list[Case] = []
    for category in sorted({it.category for it in cat.visible}):
        expected = tuple(it.sku for it in cat.visible if it.category == category)
        out.append(Case("category-only", category, "category", category, expected))
        short = category[:2]
        # the short form only when it names nothing else (运动 is also a shoe, so not 运动 → 运动户外)
        if (
            len(category) > 2
            and short not in titles
            and not any(c != category and c.startswith(short) for c in {it.category for it in cat.visible})
        ):
            out.append(Case("category-only", short, "category", category, expected))
    return out


def _trap_cases(cat: Catalog) -> list[Case]:
    out = []
    for word in HOMOPHONE_WORDS:
        expected = tuple(it.sku for it in cat.visible if word in it.title)
        if expected:
            out.append(Case("homophone-trap", word, "word", word, expected))
    return out


def build_cases(items: Sequence[CatalogItem], seed: int = 7, per_kind: int = 16) -> list[Case]:
    """`per_kind` cases of every kind (all of the category and homophone ones), deterministic."""
    rng = random.Random(seed)
    cat = Catalog(items)
    cases: list[Case] = []
    seen: set[tuple[str, str]] = set()
    for kind in KINDS:
        if kind == "category-only":
            found = _category_cases(cat)
        elif kind == "homophone-trap":
            found = _trap_cases(cat)
        else:
            found = []
            builder = _BUILDERS[kind]
            order = list(range(len(cat.parts)))
            rng.shuffle(order)
            brands_used: dict[str, int] = {}
            for i in order:
                if len(found) >= per_kind:
                    break
                p = cat.parts[i]
                if brands_used.get(p.item.brand, 0) >= 2:  # spread over brands
                    continue
                case = builder(rng, p, cat)
                if case is None or not case.expected or (kind, case.query) in seen:
                    continue
                seen.add((kind, case.query))
                brands_used[p.item.brand] = brands_used.get(p.item.brand, 0) + 1
                found.append(case)
        cases.extend(found)
    return cases


def realistic_queries(items: Sequence[CatalogItem], n: int, seed: int = 11) -> list[str]:
    """`n` queries of every kind over `items` (brand + noun, typos, pinyin, filters...), for timing."""
    rng = random.Random(seed)
    sample = rng.sample(list(items), min(len(items), 20_000))
    cat = Catalog(sample)
    queries: list[str] = []
    builders = list(_BUILDERS.values())
    filters = ("", "", "", "", " L4+", " <100", " 100-300", " 佣金20%+", " L5")
    categories = sorted({it.category for it in sample})
    while len(queries) < n and cat.parts:
        roll = rng.random()
        if roll < 0.04:
            queries.append(rng.choice(categories))
            continue
        if roll < 0.07:
            queries.append(rng.choice(HOMOPHONE_WORDS))
            continue
        p = rng.choice(cat.parts)
        case = rng.choice(builders)(rng, p, cat)
        if case is not None:
            queries.append(case.query + rng.choice(filters))
    return queries


def load_cases(path: Path = DEFAULT_OUT) -> list[Case]:
    with open(path, encoding="utf-8") as fh:
        return [
            Case(d["kind"], d["query"], d["match"], d["target"], tuple(d["expected"]))
            for d in (json.loads(line) for line in fh if line.strip())
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--per-kind", type=int, default=16)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    items = demo_catalog_items(demo_products())
    cases = build_cases(items, seed=args.seed, per_kind=args.per_kind)
    with open(args.out, "w", encoding="utf-8") as fh:
        for case in cases:
            fh.write(json.dumps(case.as_json(), ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.kind] = counts.get(case.kind, 0) + 1
    print(f"wrote {len(cases)} cases to {args.out}")
    for kind in KINDS:
        print(f"  {kind:<20} {counts.get(kind, 0)}")


if __name__ == "__main__":
    main()
