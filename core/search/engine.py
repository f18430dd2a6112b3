"""Catalog search: what a streamer types in, ranked catalog items out. Pure: no aiogram, no SQL.

Two levels, so that all the fuzzy work happens on the (small) vocabulary:

* Every item's title, brand and category are normalised (`core.search.normalize`) and split into words:
  Han runs and Latin/digit runs. The index keeps word → items and item → words (CSR arrays),
  and, over the vocabulary, term → words for: Han bigrams, skip-bigrams (纯奶 → 纯牛奶) and
  single characters; pinyin syllable pairs and single syllables; pinyin initials of whole words,
  of their starts and of their parts (云南白药 → ynby, yn, nby). Latin words are matched
  directly: exactly, by prefix, by edit distance (rapidfuzz), or split (pizzahut → pizza hut).
* A query is split into *units*, one per Han character and one or more per Latin token (one per
  pinyin syllable or initial it reads as), each a bit of a 64-bit mask. Every matching term marks
  the words it hits with the bits it covers in one of eight quality classes: characters (1.0),
  Latin prefix (0.9), pinyin or close typo (0.8), initials of whole words or loose typo (0.7),
  2-letter initials (0.6), initials of part of a word (0.5); and two weak ones that add to the
  score of an item matched otherwise but never make a match: initials of a word only begun (0.5)
  and a lone shared character (0.35). An item's relevance (0–100) is the quality-weighted share
  of the query's units its words cover, so word order does not matter, and a unit matched by
  its characters always scores above the same unit matched through pinyin alone (经典 beats 景点
  for 经典); typing an item's whole title scores 100.
* Matches are items reaching 30 and 60% of the best match. Items are ranked by relevance
  (rounded), then tier, then score; L0 and counterfeit goods are hidden unless asked for.
  Filters ride in the query: `L4+`, `L5`, `<100`, `100-300`, `佣金20%+`.
* Speed: items holding one word that covers the whole query need no scoring; for the rest,
  only items holding a word for one of the "required" units (picked so that an item without
  them could not reach the cutoff) are scored, all in numpy.
"""

from __future__ import annotations

import re
import string
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from core.catalog import TIERS, CatalogItem
from core.search.normalize import (
    MAX_QUERY_CHARS,
    han_pinyin,
    is_han,
    looks_like_initials,
    normalize,
    split_pinyin,
    tokens,
)

__all__ = ["Hit", "SearchFilters", "SearchIndex", "SearchResult", "parse_query", "search"]

# Quality classes, best first: (name, weight per unit).
_EXACT, _PREFIX, _SOUND, _LOOSE, _PARTIAL, _FRAGMENT, _BEGUN, _LONE = range(8)
_CLASS_WEIGHT = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.35)
# Weak classes add to an item's score but never make it a match by themselves.
_WEAK = (False, False, False, False, False, False, True, True)
_MAX_UNITS = 64  # one bit per unit in a uint64 mask
_EXACT_BONUS = 3.0  # the whole title typed: 100 instead of 97
_MIN_RELEVANCE = 30.0  # below this share of the query an item is not a match
_RELATIVE_CUTOFF = 0.6  # ... nor below 60% of the best match
_PRUNE = True  # skip items that cannot reach the cutoff (tests turn it off to check it changes nothing)
_PREFIX_LIMIT = 64
_FUZZY_LIMIT = 8
_SUGGESTIONS = 5
_SCORE_BITS = 14  # score × 100 ≤ 10000 < 2**14
_TIER_INDEX = {t: i for i, t in enumerate(TIERS)}


# --------------------------------------------------------------------------- query filters


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Filters parsed out of the query text."""

    min_tier: str | None = None  # `L4+`
    tier: str | None = None  # `L3`
    price_min: float | None = None  # CNY, inclusive
    price_max: float | None = None
    min_commission: float | None = None  # 0–1, `佣金20%+` → 0.2

    def __bool__(self) -> bool:
        return any(
            v is not None
            for v in (self.min_tier, self.tier, self.price_min, self.price_max, self.min_commission)
        )


_NUM = r"(\d+(?:\.\d+)?)"
_TIER_RE = re.compile(r"(?<![a-z0-9])l([0-5])\s*(\+|及以上|以上)?(?![a-z0-9])", re.IGNORECASE)
_COMMISSION_RES = (
    re.compile(rf"(?:佣金|佣)\s*(?:>=|≥|>|大于|超过|高于)?\s*{_NUM}\s*%\s*(?:\+|及以上|以上)?"),
    re.compile(rf"(?<![\d.]){_NUM}\s*%\s*(?:\+|及以上|以上)\s*(?:佣金|佣)?"),
    re.compile(rf"(?<![\d.]){_NUM}\s*%\s*(?:佣金|佣)"),
)
# A bare `a-b` is a price range unless a unit follows it (3-6岁, 2-3人, 1-2kg).
_UNIT_AFTER = r"(?![a-z0-9.%岁月年人个件只支瓶包盒片克斤米码寸升天周号段张双条套])"
_PRICE_RANGE_RE = re.compile(
    rf"(?<![a-z0-9.])[¥]?{_NUM}\s*(?:-|~|～|〜|到|至)\s*[¥]?{_NUM}\s*(?:元|块)?{_UNIT_AFTER}", re.IGNORECASE
)
_PRICE_MAX_RES = (
    re.compile(rf"(?:<=|≤|<|低于|小于|不超过|不到)\s*[¥]?{_NUM}\s*(?:元|块)?"),
    re.compile(rf"(?<![a-z0-9.]){_NUM}\s*(?:元|块)?\s*(?:以下|以内)", re.IGNORECASE),
)
_PRICE_MIN_RES = (
    re.compile(rf"(?:>=|≥|>|高于|大于|超过)\s*[¥]?{_NUM}\s*(?:元|块)?"),
    re.compile(rf"(?<![a-z0-9.]){_NUM}\s*(?:元|块)\s*以上", re.IGNORECASE),
)


def parse_query(query: str) -> tuple[str, SearchFilters]:
    """Split a query into its search text and the filters riding in it."""
    text = unicodedata.normalize("NFKC", query)
    values: dict[str, Any] = {}

    def take(pattern: re.Pattern[str], handle) -> None:
        nonlocal text
        for match in pattern.finditer(text):
            handle(match)
        text = pattern.sub(" ", text)

    def on_tier(m: re.Match[str]) -> None:
        tier = f"L{m.group(1)}"
        if m.group(2):
            values["min_tier"], values["tier"] = tier, None
        else:
            values["tier"], values["min_tier"] = tier, None

    def on_commission(m: re.Match[str]) -> None:
        values["min_commission"] = min(1.0, float(m.group(1)) / 100)

    def on_range(m: re.Match[str]) -> None:
        lo, hi = sorted((float(m.group(1)), float(m.group(2))))
        values["price_min"], values["price_max"] = lo, hi

    def on_max(m: re.Match[str]) -> None:
        values["price_max"] = float(m.group(1))

    def on_min(m: re.Match[str]) -> None:
        values["price_min"] = float(m.group(1))

    take(_TIER_RE, on_tier)
    for pattern in _COMMISSION_RES:
        take(pattern, on_commission)
    take(_PRICE_RANGE_RE, on_range)
    for pattern in _PRICE_MAX_RES:
        take(pattern, on_max)
    for pattern in _PRICE_MIN_RES:
        take(pattern, on_min)
    return " ".join(text.split()), SearchFilters(**values)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Hit:
    item: CatalogItem
    relevance: float  # 0–100


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str  # as typed
    text: str  # with the filters taken out
    filters: SearchFilters
    hits: list[Hit] = field(default_factory=list)
    total: int = 0  # matches before paging
    suggestions: list[str] = field(default_factory=list)  # closest brands/categories when nothing matched


# --------------------------------------------------------------------------- the index


def _latin_units(token: str) -> int:
    """How many query units a Latin/digit word weighs: its pinyin syllables, else by length.
    (Pinyin initials weigh one unit a letter: each stands for a character.)"""
    syllables = split_pinyin(token)
    if syllables:
        return min(len(syllables), 8)
    return 1 if len(token) <= 3 else 2 if len(token) <= 8 else 3


_SKU_DROP = str.maketrans("", "", string.punctuation + string.whitespace)


def _sku_key(sku: str) -> str:
    """An sku as typed or pasted: case, width and punctuation do not matter."""
    return (sku.lower() if sku.isascii() else normalize(sku)).translate(_SKU_DROP)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges [start, start+length) — positions into a CSR payload."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.repeat(starts.astype(np.int64) - (ends - lengths), lengths) + np.arange(total, dtype=np.int64)


class SearchIndex:
    """An immutable search index over catalog items; build a new one to change it."""

    items: tuple[CatalogItem, ...]
    _n: int
    _tier: np.ndarray  # int8 tier rank per item
    _price: np.ndarray
    _commission: np.ndarray
    _visible: np.ndarray  # not L0, not counterfeit
    _title_keys: np.ndarray  # hash of each title's word set
    _static_key: np.ndarray  # tier | score | catalog order, packed in an int64
    _rank_order: np.ndarray  # items by static key, best first
    _key_shift: int
    _item_ptr: np.ndarray  # CSR item → words
    _item_words: np.ndarray
    _word_ptr: np.ndarray  # CSR word → items
    _word_items: np.ndarray
    _words: tuple[str, ...]
    _vocab: dict[str, int]
    _terms: dict[str, int]  # CSR term → words
    _term_ptr: np.ndarray
    _term_words: np.ndarray
    _latin_sorted: tuple[str, ...]
    _latin_sorted_ids: np.ndarray
    _latin_ids: dict[str, int]
    _sku_hashes: np.ndarray
    _sku_positions: np.ndarray
    _suggest_names: tuple[str, ...]
    _suggest_text: tuple[tuple[str, ...], tuple[int, ...]]  # keys, and whose name each is
    _suggest_sound: tuple[tuple[str, ...], tuple[int, ...]]
    _top_categories: tuple[str, ...]
    _frozen: bool
    __slots__ = (
        "items", "_n", "_tier", "_price", "_commission", "_visible", "_title_keys", "_static_key",
        "_rank_order", "_key_shift", "_item_ptr", "_item_words", "_word_ptr", "_word_items", "_words",
        "_vocab", "_terms", "_term_ptr", "_term_words", "_latin_sorted", "_latin_sorted_ids",
        "_latin_ids", "_sku_hashes", "_sku_positions", "_suggest_names", "_suggest_text",
        "_suggest_sound", "_top_categories", "_frozen",
    )  # fmt: skip

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("SearchIndex is immutable; build a new one")
        object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return self._n

    @classmethod
    def build(cls, items: Iterable[CatalogItem]) -> SearchIndex:
        """Index `items` (title, brand and category). Never touches any other index."""
        self = object.__new__(cls)
        self._frozen = False
        items_t = tuple(items)
        n = len(items_t)
        self.items = items_t
        self._n = n

        vocab: dict[str, int] = {}
        chunk_cache: dict[str, tuple[int, ...]] = {}

        def chunk(text: str) -> tuple[int, ...]:
            ids: list[int] = []
            for tok in tokens(normalize(text)):
                wid = vocab.get(tok)
                if wid is None:
                    wid = vocab[tok] = len(vocab)
                ids.append(wid)
            info = chunk_cache[text] = tuple(ids)
            return info

        # One pass over the items, the per-item work a few dict lookups: titles repeat their words.
        item_words = array("i")
        counts = array("i")
        title_keys = array("q")  # hash of the title's word set: "the whole title typed"
        get = chunk_cache.get
        side_cache: dict[tuple[str, str], tuple[int, ...]] = {}
        for it in items_t:
            words: list[int] = []
            for part in it.title.split():
                ids = get(part)
                words += chunk(part) if ids is None else ids
            title_keys.append(hash(frozenset(words)))
            side = side_cache.get((it.brand, it.category))
            if side is None:
                side = side_cache[(it.brand, it.category)] = chunk(it.brand) + chunk(it.category)
            words += side
            unique = set(words)
            item_words.extend(unique)
            counts.append(len(unique))

        tier_index = _TIER_INDEX
        self._tier = _readonly(np.array([tier_index.get(it.tier, 0) for it in items_t], dtype=np.int8))
        self._price = _readonly(np.fromiter((it.price for it in items_t), dtype=np.float64, count=n))
        commissions = (it.commission_rate for it in items_t)
        self._commission = _readonly(np.fromiter(commissions, dtype=np.float64, count=n))
        counterfeit = np.fromiter((it.counterfeit for it in items_t), dtype=bool, count=n)
        self._visible = _readonly((self._tier > 0) & ~counterfeit)
        scores = np.fromiter((it.score for it in items_t), dtype=np.float64, count=n)
        score_q = np.clip(np.rint(np.nan_to_num(scores) * 100), 0, 10_000).astype(np.int64)
        self._title_keys = _readonly(np.frombuffer(title_keys, dtype=np.int64).copy())
        item_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(counts, dtype=np.int32), out=item_ptr[1:])
        self._item_ptr = _readonly(item_ptr)
        self._item_words = _readonly(np.frombuffer(item_words, dtype=np.int32).copy())
        del item_words, counts
        # skus by hash, sorted (a dict of a million keys would cost ~100 MB)
        sku_hashes = np.fromiter((hash(_sku_key(it.sku)) for it in items_t), dtype=np.int64, count=n)
        sku_order = np.argsort(sku_hashes, kind="stable")
        self._sku_hashes = _readonly(sku_hashes[sku_order])
        self._sku_positions = _readonly(sku_order.astype(np.int32))
        del sku_hashes, sku_order
        # Suggestions name only what a streamer can find: a brand whose goods are all hidden stays unnamed.
        shown = [it for it in items_t if it.tier != "L0" and not it.counterfeit]
        brand_count = Counter(it.brand for it in shown)
        category_count = Counter(it.category for it in shown)

        # The static part of the ranking key: tier, then score, then catalog order (unique keys keep
        # paging stable). The query adds the rounded relevance above these bits.
        id_bits = max(1, n.bit_length())
        positions = np.arange(n, dtype=np.int64)
        static = (
            (self._tier.astype(np.int64) << (_SCORE_BITS + id_bits))
            | (score_q << id_bits)
            | ((1 << id_bits) - 1 - positions)
        )
        self._static_key = _readonly(static)
        self._key_shift = 3 + _SCORE_BITS + id_bits
        self._rank_order = _readonly(np.argsort(-static, kind="stable").astype(np.int32))

        # word → items: sort (word, item) pairs packed in one int64 each
        v = len(vocab)
        pairs = self._item_words.astype(np.int64) * max(n, 1)
        pairs += np.repeat(np.arange(n, dtype=np.int64), np.diff(self._item_ptr))
        pairs.sort()
        self._word_items = _readonly((pairs % max(n, 1)).astype(np.int32))
        del pairs
        word_ptr = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(np.bincount(self._item_words, minlength=v), out=word_ptr[1:])
        self._word_ptr = _readonly(word_ptr)

        # term → words over the vocabulary, and the Latin words for exact/prefix/fuzzy matching
        words_list = [""] * v
        for w, i in vocab.items():
            words_list[i] = w
        self._words = tuple(words_list)
        term_lists: dict[str, list[int]] = {}
        latin: list[tuple[str, int]] = []
        for wid, word in enumerate(words_list):
            if not is_han(word):
                latin.append((word, wid))
                continue
            terms = {"u" + ch for ch in word}
            syllables = han_pinyin(word)
            if len(word) == 1:
                terms.add("q" + syllables[0])
            for i in range(len(word) - 1):
                terms.add("b" + word[i : i + 2])
                terms.add(f"p{syllables[i]} {syllables[i + 1]}")
                if i + 2 < len(word):
                    terms.add("s" + word[i] + word[i + 2])  # skipping one character
            for s in syllables:
                terms.add("q" + s)
            if len(word) >= 2:
                initials = "".join(s[0] for s in syllables)
                terms.add("I" + initials)
                m = len(initials)
                if m > 2:
                    terms.add("K" + initials[:2])  # begun: 2 letters of a longer word
                    terms.update(  # 3+ letters inside a longer word: xcq in 无线吸尘器
                        "J" + initials[a:b] for a in range(m - 2) for b in range(a + 3, m + 1) if b - a < m
                    )
            for term in terms:
                bucket = term_lists.get(term)
                if bucket is None:
                    term_lists[term] = [wid]
                else:
                    bucket.append(wid)
        term_ids: dict[str, int] = {}
        term_ptr = array("q", [0])
        term_words = array("i")
        for term, wids in term_lists.items():
            term_ids[term] = len(term_ids)
            term_words.extend(wids)
            term_ptr.append(len(term_words))
        self._terms = term_ids
        self._term_ptr = _readonly(np.frombuffer(term_ptr, dtype=np.int64).copy())
        self._term_words = _readonly(np.frombuffer(term_words, dtype=np.int32).copy())
        latin.sort()
        self._latin_sorted = tuple(w for w, _ in latin)
        self._latin_sorted_ids = _readonly(np.array([i for _, i in latin], dtype=np.int32))
        self._latin_ids = {w: i for w, i in latin}
        self._vocab = vocab

        # "did you mean": brands and categories, by their normalised text and their pinyin
        names = sorted(brand_count, key=lambda b: -brand_count[b]) + sorted(
            category_count, key=lambda c: -category_count[c]
        )
        names = [name for name in names if name.strip()]
        self._suggest_names = tuple(names)
        text_keys: list[tuple[str, int]] = []
        sound_keys: list[tuple[str, int]] = []
        for i, name in enumerate(names):
            # "Dyson/戴森" answers to dyson戴森, dyson, 戴森 and daisen
            toks = tokens(normalize(name))
            for key in {"".join(toks), *toks}:
                text_keys.append((key, i))
            for key in {_pinyin_key("".join(toks)), *(_pinyin_key(t) for t in toks if is_han(t))}:
                sound_keys.append((key, i))
        self._suggest_text = (tuple(k for k, _ in text_keys), tuple(i for _, i in text_keys))
        self._suggest_sound = (tuple(k for k, _ in sound_keys), tuple(i for _, i in sound_keys))
        self._top_categories = tuple(
            sorted(category_count, key=lambda c: (-category_count[c], c))[:_SUGGESTIONS]
        )
        self._frozen = True
        return self

    # ----------------------------------------------------------------------- query side

    def _term_words_of(self, term: str) -> np.ndarray | None:
        tid = self._terms.get(term)
        if tid is None:
            return None
        return self._term_words[self._term_ptr[tid] : self._term_ptr[tid + 1]]

    def _plan(self, query_tokens: list[str]) -> tuple[list[tuple[np.ndarray, int, int]], int]:
        """The query's term matches as (word ids, unit mask, quality class), and its unit count."""
        matches: list[tuple[np.ndarray, int, int]] = []
        next_bit = 0
        pinyin_run: list[tuple[str, int]] = []  # (syllable, bit) across adjacent pinyin tokens

        def add(wids: np.ndarray | None, mask: int, klass: int) -> None:
            if wids is not None and len(wids) and mask:
                matches.append((wids, mask, klass))

        def flush_pinyin() -> None:
            if len(pinyin_run) == 1:
                syllable, bit = pinyin_run[0]
                if len(syllable) >= 2:
                    add(self._term_words_of("q" + syllable), 1 << bit, _SOUND)
            for (a, abit), (b, bbit) in zip(pinyin_run, pinyin_run[1:], strict=False):
                add(self._term_words_of(f"p{a} {b}"), (1 << abit) | (1 << bbit), _SOUND)
            pinyin_run.clear()

        for tok in query_tokens:
            if next_bit >= _MAX_UNITS:
                break
            if is_han(tok):
                flush_pinyin()
                tok = tok[: _MAX_UNITS - next_bit]
                base = next_bit
                next_bit += len(tok)
                syllables = han_pinyin(tok)
                if len(tok) == 1:
                    add(self._term_words_of("u" + tok), 1 << base, _EXACT)
                    add(self._term_words_of("q" + syllables[0]), 1 << base, _SOUND)
                    continue
                for i in range(len(tok) - 1):
                    mask = 3 << (base + i)
                    add(self._term_words_of("b" + tok[i : i + 2]), mask, _EXACT)
                    add(self._term_words_of(f"p{syllables[i]} {syllables[i + 1]}"), mask, _SOUND)
                    add(self._term_words_of("s" + tok[i : i + 2]), mask, _SOUND)  # 纯奶 → 纯牛奶
                for i, ch in enumerate(tok):
                    add(self._term_words_of("u" + ch), 1 << (base + i), _LONE)
                continue

            exact = self._latin_ids.get(tok)
            prefixed = self._latin_prefixed(tok, exclude=exact) if len(tok) >= 2 else None
            # `ynby` is initials; `dyson` (a catalog word) and `dys` (the start of one) are not
            initials = looks_like_initials(tok) and (
                len(tok) <= 3 or (exact is None and (prefixed is None or not len(prefixed)))
            )
            sounds = split_pinyin(tok)
            units = min(len(tok) if initials and not sounds else _latin_units(tok), _MAX_UNITS - next_bit)
            base = next_bit
            next_bit += units
            all_bits = ((1 << units) - 1) << base
            if sounds:
                for j, syllable in enumerate(sounds):
                    pinyin_run.append((syllable, base + j * units // len(sounds)))
            else:
                flush_pinyin()
            if exact is not None:
                add(np.array([exact], dtype=np.int32), all_bits, _EXACT)
            add(prefixed, all_bits, _PREFIX)
            if exact is None and len(tok) >= 3 and tok.isalpha():
                cutoff = 85.0 if len(tok) == 3 else 75.0 if len(tok) < 8 else 80.0
                found = process.extract(
                    tok, self._latin_sorted, scorer=fuzz.ratio, limit=_FUZZY_LIMIT, score_cutoff=cutoff
                )
                for _, score, i in found:
                    wid = self._latin_sorted_ids[i : i + 1]
                    add(wid, all_bits, _SOUND if score >= 85.0 else _LOOSE)
            if initials:
                self._initials(tok, base, units, add)
        flush_pinyin()
        return matches, next_bit

    def _query_tokens(self, text: str) -> list[str]:
        """Query tokens, with run-together Latin taken apart: `pizzahut` → pizza hut (catalog words),
        `qqyinyue` → qq yinyue, `txu` → t xu (a catalog word stuck to pinyin)."""
        out: list[str] = []
        for tok in tokens(normalize(text)):
            if is_han(tok) or not tok.isalpha() or tok in self._latin_ids or split_pinyin(tok):
                out.append(tok)
                continue
            pieces = self._latin_pieces(tok)
            if pieces is None and not self._near_latin_word(tok):
                pieces = self._pinyin_with_word(tok)
            out.extend(pieces or (tok,))
        return out

    def _near_latin_word(self, tok: str) -> bool:
        """A catalog word starts with `tok` or is a typo away from it (`tore` → toread, `pilut` → pilot)."""
        words = self._latin_sorted
        at = bisect_left(words, tok)
        if at < len(words) and words[at].startswith(tok):
            return True
        return process.extractOne(tok, words, scorer=fuzz.ratio, score_cutoff=75.0) is not None

    def _latin_pieces(self, tok: str) -> tuple[str, ...] | None:
        """`tok` as 2–4 catalog words of 3+ letters, fewest pieces first."""
        known = self._latin_ids
        n = len(tok)
        if n < 6 or n > 40:
            return None
        best: list[tuple[str, ...] | None] = [None] * (n + 1)
        best[0] = ()
        for i in range(n):
            head = best[i]
            if head is None or len(head) >= 4:
                continue
            for j in range(i + 3, n + 1):
                if tok[i:j] in known:
                    cur = best[j]
                    if cur is None or len(head) + 1 < len(cur):
                        best[j] = (*head, tok[i:j])
        found = best[n]
        return found if found is not None and len(found) > 1 else None

    def _pinyin_with_word(self, tok: str) -> tuple[str, ...] | None:
        for k in range(1, min(4, len(tok) - 1)):
            if tok[:k] in self._latin_ids and split_pinyin(tok[k:]):
                return tok[:k], tok[k:]
            if tok[-k:] in self._latin_ids and split_pinyin(tok[:-k]):
                return tok[:-k], tok[-k:]
        return None

    def _initials(self, tok: str, base: int, units: int, add) -> None:
        """`ynbyyg` → the words whose initials are pieces of it (云南白药 ynby, 牙膏 yg).

        A whole word's initials of 3+ letters, or the whole token, count 0.7; of two letters 0.6; part
        of a longer word (`xcq` in 无线吸尘器) 0.5. Two-letter parts of words only count at the end
        of the token (still typing). A long token is taken as initials only when some piece has 3+
        letters or the token splits wholly into words' initials (`mnsn` → 蒙牛 酸奶), so a run of
        2-letter coincidences (`xyzzy`) matches nothing.
        """
        m = len(tok)
        found: list[tuple[np.ndarray, int, int]] = []
        long_piece = False
        reach = [True] + [False] * m  # reach[j]: tok[:j] splits into pieces that are words' initials
        for i in range(m):
            for j in range(i + 2, m + 1):
                piece = tok[i:j]
                size = j - i
                strong = size == m or size >= 3
                bits = 0
                for p in range(i, j):
                    bits |= 1 << (base + p * units // m)
                words = self._term_words_of("I" + piece)
                if words is not None:
                    long_piece = long_piece or strong
                    reach[j] = reach[j] or reach[i]
                    found.append((words, bits, _LOOSE if strong else _PARTIAL))
                if size >= 3 or j == m:
                    # a 2-letter start of a longer word only adds to items found otherwise
                    words = self._term_words_of(("J" if size >= 3 else "K") + piece)
                    if words is not None:
                        long_piece = long_piece or strong
                        if j == m:
                            reach[j] = reach[j] or reach[i]
                        found.append((words, bits, _FRAGMENT if size >= 3 else _BEGUN))
        if m >= 4 and not long_piece and not reach[m]:
            return
        for words, bits, klass in found:
            add(words, bits, klass)

    def _latin_prefixed(self, tok: str, exclude: int | None) -> np.ndarray | None:
        """Catalog words `tok` begins (`dys` → dyson); a number only begins a unit (`10` → 10g, not 100)."""
        words = self._latin_sorted
        lo = bisect_left(words, tok)
        hi = lo
        while hi < len(words) and hi - lo < _PREFIX_LIMIT and words[hi].startswith(tok):
            hi += 1
        if hi == lo:
            return None
        wids = self._latin_sorted_ids[lo:hi]
        if tok[-1].isdigit():
            n = len(tok)
            wids = wids[[len(w) > n and not w[n].isdigit() and w[n] != "." for w in words[lo:hi]]]
        if exclude is not None:
            wids = wids[wids != exclude]
        return wids

    def _sku_position(self, text: str) -> int | None:
        key = _sku_key(text)
        if not key:
            return None
        h = hash(key)
        at = int(np.searchsorted(self._sku_hashes, h))
        while at < len(self._sku_hashes) and self._sku_hashes[at] == h:
            pos = int(self._sku_positions[at])
            if _sku_key(self.items[pos].sku) == key:
                return pos
            at += 1
        return None

    def _filter_mask(
        self, cand: np.ndarray, filters: SearchFilters, include_hidden: bool
    ) -> np.ndarray | None:
        """Which candidates pass the filters and visibility; None when all do (nothing to check)."""
        keep: np.ndarray | None = None

        def both(mask: np.ndarray) -> None:
            nonlocal keep
            keep = mask if keep is None else keep & mask

        if not include_hidden:
            both(self._visible[cand])
        if filters.tier is not None:
            both(self._tier[cand] == _TIER_INDEX[filters.tier])
        if filters.min_tier is not None:
            both(self._tier[cand] >= _TIER_INDEX[filters.min_tier])
        if filters.price_min is not None:
            both(self._price[cand] >= filters.price_min - 1e-9)
        if filters.price_max is not None:
            both(self._price[cand] <= filters.price_max + 1e-9)
        if filters.min_commission is not None:
            both(self._commission[cand] >= filters.min_commission - 1e-9)
        return keep

    def _page(self, cand: np.ndarray, key: np.ndarray, offset: int, limit: int) -> np.ndarray:
        """Positions (into `cand`) of the requested page, best key first."""
        want = offset + limit
        if want <= 0 or len(cand) == 0:
            return np.zeros(0, dtype=np.int64)
        neg = -key
        if want < len(cand):
            top = np.argpartition(neg, want - 1)[:want]
            top = top[np.argsort(neg[top], kind="stable")]
        else:
            top = np.argsort(neg, kind="stable")
        return top[offset:want]

    def _suggest(self, text: str) -> list[str]:
        """The brands and categories closest to `text` by characters or by sound; else the biggest
        categories, so that nothing found is never a dead end."""
        query = "".join(tokens(normalize(text)))
        out: list[str] = []
        if query and self._suggest_names:
            scored: dict[int, float] = {}
            probes = (
                (query, self._suggest_text, fuzz.WRatio),
                (_pinyin_key(query), self._suggest_sound, fuzz.ratio),
            )
            for probe, (choices, owners), scorer in probes:
                if not probe:
                    continue
                found = process.extract(probe, choices, scorer=scorer, limit=30, score_cutoff=60.0)
                for _, score, at in found:
                    owner = owners[at]
                    scored[owner] = max(scored.get(owner, 0.0), score)
            out = [self._suggest_names[i] for i in sorted(scored, key=lambda i: (-scored[i], i))]
        for name in self._top_categories:
            if len(out) >= _SUGGESTIONS:
                break
            if name not in out:
                out.append(name)
        return out[:_SUGGESTIONS]

    def query(
        self, query: str, *, limit: int = 5, offset: int = 0, include_hidden: bool = False
    ) -> SearchResult:
        """See `search`."""
        limit = max(0, int(limit))
        offset = max(0, int(offset))
        if not query or not query.strip():
            return SearchResult(query=query or "", text="", filters=SearchFilters())
        text, filters = parse_query(query[:MAX_QUERY_CHARS])
        if self._n == 0:
            return SearchResult(query, text, filters, suggestions=[])

        # A pasted sku finds its item directly.
        sku_pos = self._sku_position(text) if text else None
        if sku_pos is not None:
            cand = np.array([sku_pos], dtype=np.int64)
            keep = self._filter_mask(cand, filters, include_hidden)
            if keep is None or keep.all():
                hits = [Hit(self.items[sku_pos], 100.0)] if offset == 0 and limit > 0 else []
                return SearchResult(query, text, filters, hits=hits, total=1)

        query_tokens = self._query_tokens(text)
        matches, n_units = self._plan(query_tokens)
        if n_units == 0:
            if not filters:
                return SearchResult(query, text, filters, suggestions=self._suggest(text) if text else [])
            # Only filters: browse everything that passes them, best tier first.
            order = self._rank_order
            keep = self._filter_mask(order, filters, include_hidden)
            ranked = order if keep is None else order[keep]
            page = ranked[offset : offset + limit]
            hits = [Hit(self.items[int(p)], 100.0) for p in page]
            return SearchResult(query, text, filters, hits=hits, total=int(len(ranked)))
        if not matches:
            return SearchResult(query, text, filters, suggestions=self._suggest(text))

        # Word level: the mask each matched word earns, per quality class.
        wid_parts = [m[0] for m in matches]
        lens = np.fromiter((len(w) for w in wid_parts), dtype=np.int64, count=len(wid_parts))
        all_w = np.concatenate(wid_parts)
        all_m = np.repeat(np.array([m[1] for m in matches], dtype=np.uint64), lens)
        all_c = np.repeat(np.array([m[2] for m in matches], dtype=np.int64), lens)
        strong = np.repeat(np.array([not _WEAK[m[2]] for m in matches], dtype=bool), lens)
        uniq, inv = np.unique(all_w, return_inverse=True)
        table = np.zeros((len(_CLASS_WEIGHT), len(uniq) + 1), dtype=np.uint64)  # column 0: "no match"
        np.bitwise_or.at(table, (all_c, inv + 1), all_m)
        local = np.zeros(len(self._words), dtype=np.int32)
        local[uniq] = np.arange(1, len(uniq) + 1, dtype=np.int32)
        word_ids = [self._vocab.get(tok) for tok in query_tokens]
        title_key = hash(frozenset(word_ids)) if None not in word_ids else None

        # Items holding one word that matches the whole query by its characters (a brand, a category,
        # 牙膏) all score 97 (100 for the whole title): no need to look at their other words.
        strong_words = np.unique(all_w[strong])
        full = np.uint64((1 << n_units) - 1) if n_units < 64 else np.uint64(2**64 - 1)
        whole = table[_EXACT][local[strong_words]] == full
        cand_a = self._items_with(strong_words[whole])
        keep = self._filter_mask(cand_a, filters, include_hidden)
        if keep is not None:
            cand_a = cand_a[keep]
        rel_a = np.full(len(cand_a), 100.0 - _EXACT_BONUS)
        if title_key is not None and len(cand_a):
            rel_a += _EXACT_BONUS * (self._title_keys[cand_a] == title_key)
        strong_a = rel_a
        in_a = None

        # The others: an item can only pass the cutoff if it covers enough units, so some units are
        # *required* and only items holding a word that covers one of them are looked at. The units
        # required are the cheapest (fewest items to look at per point they could add) until what is
        # left could not reach the cutoff even at the best quality any word offers (2024款, 500ml and
        # 户外 are never required next to a rare brand or product). Weak matches do not count towards
        # the cutoff, so they need no room. Exact either way: if the best match turns out weaker than
        # guessed, more units are required under the real cutoff.
        partial = strong_words[~whole]
        sizes = (self._word_ptr[partial + 1] - self._word_ptr[partial]).tolist()
        covers = np.bitwise_or.reduce(table, axis=0)[local[partial]].tolist()
        best_w = [0.0] * n_units  # best quality a (strong) match offers each unit
        for _, mask, klass in matches:
            if _WEAK[klass]:
                continue
            weight = _CLASS_WEIGHT[klass]
            while mask:
                low = mask & -mask
                b = low.bit_length() - 1
                best_w[b] = max(best_w[b], weight)
                mask ^= low
        by_unit = [[i for i, c in enumerate(covers) if c >> b & 1] for b in range(n_units)]
        per_point = (100.0 - _EXACT_BONUS) / n_units
        required = [False] * n_units
        chosen = [False] * len(partial)
        room = sum(best_w)  # most points an item outside the chosen words could still get

        def require_until(cutoff: float) -> None:
            nonlocal room
            while room * per_point >= cutoff - 1e-9 or not _PRUNE:
                pick, pick_rate = -1, 0.0
                for b in range(n_units):
                    gain = best_w[b]
                    if required[b] or gain <= 0 or not by_unit[b]:
                        continue
                    rate = sum(sizes[i] for i in by_unit[b] if not chosen[i]) / gain
                    if pick < 0 or rate < pick_rate:
                        pick, pick_rate = b, rate
                if pick < 0:
                    return
                required[pick] = True
                room -= best_w[pick]
                for i in by_unit[pick]:
                    chosen[i] = True

        best_guess = 100.0 - _EXACT_BONUS if len(cand_a) else sum(best_w) * per_point
        cutoff = max(_MIN_RELEVANCE, best_guess * _RELATIVE_CUTOFF)
        while True:
            require_until(cutoff)
            cand_b = self._items_with(partial[np.array(chosen, dtype=bool)])
            if len(cand_a) and len(cand_b):
                if in_a is None:
                    in_a = np.zeros(self._n, dtype=np.bool_)
                    in_a[cand_a] = True
                cand_b = cand_b[~in_a[cand_b]]
            keep = self._filter_mask(cand_b, filters, include_hidden)
            if keep is not None:
                cand_b = cand_b[keep]
            rel_b, strong_b = self._relevance(cand_b, table, local, n_units, title_key)
            best = max(
                float(strong_a.max()) if len(cand_a) else 0.0, float(strong_b.max()) if len(cand_b) else 0.0
            )
            real_cutoff = max(_MIN_RELEVANCE, best * _RELATIVE_CUTOFF)
            if room * per_point < real_cutoff - 1e-9 or all(chosen):
                break
            cutoff = real_cutoff
        if len(cand_a) == 0:
            cand, relevance, strength = cand_b, rel_b, strong_b
        elif len(cand_b) == 0:
            cand, relevance, strength = cand_a, rel_a, strong_a
        else:
            cand = np.concatenate((cand_a, cand_b))
            relevance = np.concatenate((rel_a, rel_b))
            strength = np.concatenate((strong_a, strong_b))
        ok = strength >= real_cutoff - 1e-9
        cand, relevance = cand[ok], relevance[ok]
        if len(cand) == 0:
            return SearchResult(query, text, filters, suggestions=self._suggest(text))

        key = (np.rint(relevance).astype(np.int64) << self._key_shift) | self._static_key[cand]
        page = self._page(cand, key, offset, limit)
        hits = [Hit(self.items[int(cand[p])], round(float(relevance[p]), 2)) for p in page]
        return SearchResult(query, text, filters, hits=hits, total=int(len(cand)))

    def _items_with(self, words: np.ndarray) -> np.ndarray:
        """Sorted positions of the items holding any of `words`."""
        if len(words) == 0:
            return np.zeros(0, dtype=np.int64)
        starts = self._word_ptr[words]
        raw = self._word_items[_ranges(starts, self._word_ptr[words + 1] - starts)]
        if len(words) == 1:
            return raw.astype(np.int64)
        if len(raw) * 16 < self._n:  # few: sort them (np.unique hashes, slower here)
            ordered = np.sort(raw).astype(np.int64)
            return ordered[np.append(True, ordered[1:] != ordered[:-1])]
        seen = np.zeros(self._n, dtype=np.bool_)
        seen[raw] = True
        return np.flatnonzero(seen)

    def _relevance(
        self, cand: np.ndarray, table: np.ndarray, local: np.ndarray, n_units: int, title_key: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """0–100 per candidate: the quality-weighted share of query units its words cover; and the
        same without weak matches (what decides whether it is a match at all)."""
        if len(cand) == 0:
            return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
        starts = self._item_ptr[cand]
        counts = self._item_ptr[cand + 1] - starts
        offsets = np.cumsum(counts) - counts
        cols = local[self._item_words[_ranges(starts, counts)]]
        # The classes' masks share uint64 lanes (three 21-unit masks fit in one), so one gather and
        # one OR-reduce per item serve several classes.
        classes = np.flatnonzero(table[:, 1:].any(axis=1))
        lanes = max(1, 64 // n_units)
        unit_mask = np.uint64((1 << n_units) - 1) if n_units < 64 else np.uint64(2**64 - 1)
        covered = np.zeros(len(cand), dtype=np.uint64)
        points = np.zeros(len(cand), dtype=np.float64)
        strong_points = None
        for first in range(0, len(classes), lanes):
            group = classes[first : first + lanes]
            packed = table[group[0]].copy()
            for lane, klass in enumerate(group[1:], 1):
                packed |= table[klass] << np.uint64(lane * n_units)
            got_all = np.bitwise_or.reduceat(packed[cols], offsets)
            for lane, klass in enumerate(group):
                if _WEAK[klass] and strong_points is None:  # classes run best first, weak ones last
                    strong_points = points.copy()
                got = (got_all >> np.uint64(lane * n_units)) & unit_mask if lane else got_all & unit_mask
                new = got & ~covered
                points += _CLASS_WEIGHT[klass] * np.bitwise_count(new)
                covered |= new
        scale = (100.0 - _EXACT_BONUS) / n_units
        relevance = points * scale
        strength = relevance if strong_points is None else strong_points * scale
        if title_key is not None:  # every word typed is a catalog word: is it some item's whole title?
            bonus = _EXACT_BONUS * (self._title_keys[cand] == title_key)
            relevance = relevance + bonus
            strength = strength + bonus
        return relevance, strength


def _pinyin_key(text: str) -> str:
    out: list[str] = []
    for tok in tokens(text):
        out.extend(han_pinyin(tok) if is_han(tok) else (tok,))
    return "".join(out)


def search(
    index: SearchIndex, query: str, *, limit: int = 5, offset: int = 0, include_hidden: bool = False
) -> SearchResult:
    """Ranked catalog items for what a streamer typed: relevance first, then tier, then score.

    L0 and counterfeit items are left out unless `include_hidden` (merchants and admins).
    Empty or blank queries give an empty result; a query of filters alone (`L4+ <100`) lists
    everything passing them, best tier first (relevance 100); a pasted sku finds its item. When
    nothing matches, `suggestions` holds the closest brands or categories.
    """
    return index.query(query, limit=limit, offset=offset, include_hidden=include_hidden)
