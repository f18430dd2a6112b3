"""The search index: catalog words and the terms that reach them. Pure: no aiogram, no SQL.

Every item's title, brand and category are normalised (`core.search.normalize`) and split into
words: Han runs and Latin/digit runs. The index keeps word → items and item → words (CSR arrays),
and, over the vocabulary, term → words for: Han bigrams (`b`), skip-bigrams (`s`, 纯奶 → 纯牛奶)
and single characters (`u`); pinyin syllable pairs (`p`) and single syllables (`q`); pinyin
initials of whole words (`I`), of their starts (`K`) and of their parts (`J`) (云南白药 → ynby,
yn, nby). Latin words are kept sorted, to be matched exactly, by prefix or by edit distance.
A title's gift and compatible-with phrases (送洗发水旅行装, 适用华为Mate60) are *mentions*: their
words are kept apart (their own word ids, `mention`), so that ranking can put what an item is above
what it merely mentions. The vocabulary (`core.search.vocab`: synonyms, aliases, English words)
rides along for the query side. `core.search.rank` reads it to answer queries; nothing here knows
about queries. `SearchIndex.build` hands the work to `_Builder`, one named step per part: the
items' words, the filters' fields, skus, ranking keys, postings, words and terms, suggestions.
"""

from __future__ import annotations

import string
from array import array
from bisect import bisect_left
from collections import Counter, OrderedDict
from collections.abc import Iterable
from threading import Lock
from typing import Any

import numpy as np

from core.catalog import TIERS, CatalogItem
from core.search.normalize import han_pinyin, is_han, normalize, pinyin_key, tokens
from core.search.vocab import Vocabulary, default_vocabulary

__all__ = ["SUGGESTIONS", "SearchIndex"]

SUGGESTIONS = 5  # "did you mean" names offered when nothing matches
_PREFIX_LIMIT = 64
_SCORE_BITS = 14  # score × 100 ≤ 10000 < 2**14
_TIER_INDEX = {t: i for i, t in enumerate(TIERS)}
_MENTION_MARK = "\x01"  # a mention word's vocabulary key: the word and this mark


def _after_marker(text: str, markers: tuple[str, ...], exceptions: tuple[str, ...]) -> tuple[int, int] | None:
    """Where the first marker (not inside an exception like 送礼) starts and ends in `text`."""
    best: tuple[int, int] | None = None
    for marker in markers:
        at = text.find(marker)
        while at >= 0 and (best is None or at < best[0]):
            if not any(_holds(text, at, marker, ex) for ex in exceptions):
                best = (at, at + len(marker))
                break
            at = text.find(marker, at + 1)
    return best


def _holds(text: str, at: int, marker: str, phrase: str) -> bool:
    """Is the marker at `at` part of `phrase` in `text` (送 of 送礼, 配 of 配方)?"""
    k = phrase.find(marker)
    return k >= 0 and at >= k and text.startswith(phrase, at - k)


def split_mention(text: str, vocab: Vocabulary) -> tuple[str, str, str]:
    """A normalised title phrase as (what it is, what it mentions, what it is again):
    `沐浴乳送洗发水旅行装` → 沐浴乳 · 洗发水旅行装; `适用苹果iphone15充电器` → · 苹果iphone15 · 充电器."""
    gift = _after_marker(text, vocab.gift_markers, vocab.gift_not)
    fits = _after_marker(text, vocab.fits_markers, vocab.fits_not)
    if gift is None and fits is None:
        return text, "", ""
    if fits is not None and (gift is None or fits[0] < gift[0]):
        start, end = fits
        rest = text[end:]
        # what a thing fits is a name and a model (苹果iphone15); a word after the model is the thing again
        cut = len(rest)
        for i in range(1, len(rest)):
            if rest[i - 1].isascii() and rest[i - 1].isalnum() and is_han(rest[i]):
                cut = i
                break
        return text[:start], rest[:cut], rest[cut:]
    start, end = gift  # type: ignore[misc]
    return text[:start], text[end:], ""


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


class QueryMemo:
    """The latest answers of one index, least recently used forgotten first. It lives and dies with
    its index (a refresh builds a new index, with an empty memo), so an answer is never stale."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._answers: OrderedDict[Any, Any] = OrderedDict()
        self._lock = Lock()  # searches may come from worker threads too

    def get(self, key: Any) -> Any | None:
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Any, answer: Any) -> None:
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)


class SearchIndex:
    """An immutable search index over catalog items; build a new one to change it (its `memo` of
    recent answers is the one part that changes, and only ever holds this index's answers)."""

    # Read by `core.search.rank`; the arrays are read-only and the index refuses new attributes.
    items: tuple[CatalogItem, ...]
    tier: np.ndarray  # int8 tier rank per item
    price: np.ndarray
    commission: np.ndarray
    visible: np.ndarray  # not L0, not counterfeit
    title_keys: np.ndarray  # hash of each title's word set
    static_key: np.ndarray  # tier | score | catalog order, packed in an int64
    rank_order: np.ndarray  # items by static key, best first
    key_shift: int  # the relevance goes above the static key's bits
    vocab: dict[str, int]  # word → word id
    latin_sorted: tuple[str, ...]  # the Latin/digit words, sorted
    latin_sorted_ids: np.ndarray  # and their word ids
    latin_ids: dict[str, int]
    suggest_names: tuple[str, ...]  # brands, then categories, most goods first
    suggest_text: tuple[tuple[str, ...], tuple[int, ...]]  # keys, and whose name each is
    suggest_sound: tuple[tuple[str, ...], tuple[int, ...]]
    top_categories: tuple[str, ...]
    vocabulary: Vocabulary
    brand_keys: dict[str, str]  # a brand's name, or either half of "Dyson/戴森", normalised → the brand
    words: tuple[str, ...]  # word id → its text (a mention word without its mark)
    mention: np.ndarray  # bool per word id: a word of a gift or compatible-with phrase
    latin_mention_ids: dict[str, int]  # Latin mention words by text
    memo: QueryMemo  # recent answers (core.search.rank.search)
    _n: int
    _item_ptr: np.ndarray  # CSR item → words
    _item_words: np.ndarray
    _word_ptr: np.ndarray  # CSR word → items
    _word_items: np.ndarray
    _terms: dict[str, int]  # CSR term → words
    _term_ptr: np.ndarray
    _term_words: np.ndarray
    _sku_hashes: np.ndarray
    _sku_positions: np.ndarray
    _frozen: bool
    __slots__ = (
        "items", "tier", "price", "commission", "visible", "title_keys", "static_key", "rank_order",
        "key_shift", "vocab", "latin_sorted", "latin_sorted_ids", "latin_ids", "suggest_names",
        "suggest_text", "suggest_sound", "top_categories", "vocabulary", "brand_keys", "words", "mention",
        "latin_mention_ids", "memo", "_n", "_item_ptr", "_item_words", "_word_ptr",
        "_word_items", "_terms", "_term_ptr", "_term_words", "_sku_hashes", "_sku_positions", "_frozen",
    )  # fmt: skip

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("SearchIndex is immutable; build a new one")
        object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return self._n

    @classmethod
    def build(cls, items: Iterable[CatalogItem], vocabulary: Vocabulary | None = None) -> SearchIndex:
        """Index `items` (title, brand and category). Never touches any other index."""
        self = object.__new__(cls)
        self._frozen = False
        _Builder(self, default_vocabulary() if vocabulary is None else vocabulary).build(tuple(items))
        self.memo = QueryMemo()
        self._frozen = True
        return self

    def words_for(self, term: str) -> np.ndarray | None:
        """The ids of the words a term (`b纯奶`, `pya gao`, `Iynby`...) reaches; None if no word has it."""
        tid = self._terms.get(term)
        if tid is None:
            return None
        return self._term_words[self._term_ptr[tid] : self._term_ptr[tid + 1]]

    def words_containing(self, text: str) -> np.ndarray | None:
        """The ids of the words holding `text` (one normalised token) whole: 牙膏 → 牙膏, 旅行装牙膏..."""
        if not text:
            return None
        if not is_han(text):
            ids = [i for i in (self.latin_ids.get(text), self.latin_mention_ids.get(text)) if i is not None]
            return np.array(ids, dtype=np.int32) if ids else None
        if len(text) == 1:
            return self.words_for("u" + text)
        found: np.ndarray | None = None
        for i in range(len(text) - 1):
            words = self.words_for("b" + text[i : i + 2])
            if words is None:
                return None
            found = words if found is None else np.intersect1d(found, words, assume_unique=True)
            if not len(found):
                return None
        if found is None:
            return None
        if len(text) > 2:
            names = self.words
            found = found[[text in names[w] for w in found.tolist()]]
        return found if len(found) else None

    def item_counts(self, words: np.ndarray) -> np.ndarray:
        """How many items hold each of `words`."""
        return self._word_ptr[words + 1] - self._word_ptr[words]

    def words_of_items(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The words of `items` end to end, and where each item's words start."""
        starts = self._item_ptr[items]
        counts = self._item_ptr[items + 1] - starts
        return self._item_words[_ranges(starts, counts)], np.cumsum(counts) - counts

    def items_with(self, words: np.ndarray) -> np.ndarray:
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

    def latin_prefixed(self, tok: str, exclude: int | None) -> np.ndarray | None:
        """Catalog words `tok` begins (`dys` → dyson); a number only begins a unit (`10` → 10g, not 100)."""
        words = self.latin_sorted
        lo = bisect_left(words, tok)
        hi = lo
        while hi < len(words) and hi - lo < _PREFIX_LIMIT and words[hi].startswith(tok):
            hi += 1
        if hi == lo:
            return None
        wids = self.latin_sorted_ids[lo:hi]
        if tok[-1].isdigit():
            n = len(tok)
            wids = wids[[len(w) > n and not w[n].isdigit() and w[n] != "." for w in words[lo:hi]]]
        if exclude is not None:
            wids = wids[wids != exclude]
        return wids

    def sku_position(self, text: str) -> int | None:
        """The position of the item whose sku is `text` (as typed or pasted), if any."""
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


class _Builder:
    """Fills a new SearchIndex, one step per part of it. The steps run in order: word ids are given
    out as the items are read, and every later step builds on them."""

    def __init__(self, index: SearchIndex, vocabulary: Vocabulary) -> None:
        self.index = index
        self.vocabulary = vocabulary
        self.vocab: dict[str, int] = {}  # word → word id; a mention word carries _MENTION_MARK
        # Titles repeat their words: each title phrase, and each brand and category, is read once.
        self._parts: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._sides: dict[tuple[str, str], tuple[int, ...]] = {}

    def build(self, items: tuple[CatalogItem, ...]) -> None:
        index = self.index
        index.vocabulary = self.vocabulary
        index.items = items
        index._n = len(items)
        self.item_words(items)
        self.item_fields(items)
        self.skus(items)
        self.ranking_keys(items)
        self.postings()
        words, mention = self.words()
        self.latin_words(words, mention)
        self.terms(words)
        shown = [it for it in items if it.tier != "L0" and not it.counterfeit]
        self.suggestions(Counter(it.brand for it in shown), Counter(it.category for it in shown))

    def item_words(self, items: tuple[CatalogItem, ...]) -> None:
        """item → words (CSR), and a hash of each title's word set as typed: "the whole title typed"."""
        item_words = array("i")
        counts = array("i")
        title_keys = array("q")
        parts = self._parts
        sides = self._sides
        for it in items:  # a few dict lookups per item
            words: list[int] = []
            typed: list[int] = []
            for part in it.title.split():
                both = parts.get(part)
                if both is None:
                    both = self._title_part(part)
                typed += both[0]
                words += both[1]
            title_keys.append(hash(frozenset(typed)))
            side = sides.get((it.brand, it.category))
            if side is None:
                side = sides[(it.brand, it.category)] = self._side(it.brand, it.category)
            words += side
            unique = set(words)
            item_words.extend(unique)
            counts.append(len(unique))
        index = self.index
        index.title_keys = _readonly(np.frombuffer(title_keys, dtype=np.int64).copy())
        item_ptr = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(counts, dtype=np.int32), out=item_ptr[1:])
        index._item_ptr = _readonly(item_ptr)
        index._item_words = _readonly(np.frombuffer(item_words, dtype=np.int32).copy())

    def _ids(self, text: str, mark: str = "") -> list[int]:
        """The word ids of a normalised text's tokens; a new word gets the next id."""
        vocab = self.vocab
        ids: list[int] = []
        for tok in tokens(text):
            key = tok + mark
            wid = vocab.get(key)
            if wid is None:
                wid = vocab[key] = len(vocab)
            ids.append(wid)
        return ids

    def _title_part(self, text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """A title phrase's words as typed (for the whole-title key) and as indexed (mentions marked)."""
        norm = normalize(text)
        typed = tuple(self._ids(norm))
        head, mentioned, tail = split_mention(norm, self.vocabulary)
        indexed = (
            typed
            if not mentioned and not tail
            else (*self._ids(head), *self._ids(mentioned, _MENTION_MARK), *self._ids(tail))
        )
        both = self._parts[text] = (typed, tuple(indexed))
        return both

    def _side(self, brand: str, category: str) -> tuple[int, ...]:
        return tuple(self._ids(normalize(brand))) + tuple(self._ids(normalize(category)))

    def item_fields(self, items: tuple[CatalogItem, ...]) -> None:
        """What the filters read: tier, price, commission, and whether a streamer may see the item."""
        index = self.index
        n = len(items)
        index.tier = _readonly(np.array([_TIER_INDEX.get(it.tier, 0) for it in items], dtype=np.int8))
        index.price = _readonly(np.fromiter((it.price for it in items), dtype=np.float64, count=n))
        commissions = (it.commission_rate for it in items)
        index.commission = _readonly(np.fromiter(commissions, dtype=np.float64, count=n))
        counterfeit = np.fromiter((it.counterfeit for it in items), dtype=bool, count=n)
        index.visible = _readonly((index.tier > 0) & ~counterfeit)

    def skus(self, items: tuple[CatalogItem, ...]) -> None:
        """skus by hash, sorted (a dict of a million keys would cost ~100 MB)."""
        n = len(items)
        sku_hashes = np.fromiter((hash(_sku_key(it.sku)) for it in items), dtype=np.int64, count=n)
        sku_order = np.argsort(sku_hashes, kind="stable")
        self.index._sku_hashes = _readonly(sku_hashes[sku_order])
        self.index._sku_positions = _readonly(sku_order.astype(np.int32))

    def ranking_keys(self, items: tuple[CatalogItem, ...]) -> None:
        """The static part of the ranking key: tier, then score, then catalog order (unique keys
        keep paging stable). The query adds the rounded relevance above these bits."""
        index = self.index
        n = len(items)
        scores = np.fromiter((it.score for it in items), dtype=np.float64, count=n)
        score_q = np.clip(np.rint(np.nan_to_num(scores) * 100), 0, 10_000).astype(np.int64)
        id_bits = max(1, n.bit_length())
        positions = np.arange(n, dtype=np.int64)
        static = (
            (index.tier.astype(np.int64) << (_SCORE_BITS + id_bits))
            | (score_q << id_bits)
            | ((1 << id_bits) - 1 - positions)
        )
        index.static_key = _readonly(static)
        index.key_shift = 3 + _SCORE_BITS + id_bits
        index.rank_order = _readonly(np.argsort(-static, kind="stable").astype(np.int32))

    def postings(self) -> None:
        """word → items (CSR), by sorting (word, item) pairs packed in one int64 each."""
        index = self.index
        n = index._n
        v = len(self.vocab)
        pairs = index._item_words.astype(np.int64) * max(n, 1)
        pairs += np.repeat(np.arange(n, dtype=np.int64), np.diff(index._item_ptr))
        pairs.sort()
        index._word_items = _readonly((pairs % max(n, 1)).astype(np.int32))
        del pairs
        word_ptr = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(np.bincount(index._item_words, minlength=v), out=word_ptr[1:])
        index._word_ptr = _readonly(word_ptr)

    def words(self) -> tuple[list[str], np.ndarray]:
        """Each word id's text, and which are mention words (their mark taken off)."""
        words = [""] * len(self.vocab)
        mention = np.zeros(len(self.vocab), dtype=bool)
        for w, i in self.vocab.items():
            if w.endswith(_MENTION_MARK):
                w = w[:-1]
                mention[i] = True
            words[i] = w
        self.index.words = tuple(words)
        self.index.mention = _readonly(mention)
        return words, mention

    def latin_words(self, words: list[str], mention: np.ndarray) -> None:
        """The Latin/digit words, sorted for exact, prefix and fuzzy matching; mention words apart."""
        latin = sorted((word, wid) for wid, word in enumerate(words) if not is_han(word))
        index = self.index
        index.latin_sorted = tuple(w for w, _ in latin)
        index.latin_sorted_ids = _readonly(np.array([i for _, i in latin], dtype=np.int32))
        index.latin_ids = {w: i for w, i in latin if not mention[i]}
        index.latin_mention_ids = {w: i for w, i in latin if mention[i]}
        index.vocab = {w: i for w, i in self.vocab.items() if not mention[i]}

    def terms(self, words: list[str]) -> None:
        """term → words (CSR) over the Han words: see `_han_terms`."""
        term_lists: dict[str, list[int]] = {}
        for wid, word in enumerate(words):
            if not is_han(word):
                continue
            for term in _han_terms(word):
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
        index = self.index
        index._terms = term_ids
        index._term_ptr = _readonly(np.frombuffer(term_ptr, dtype=np.int64).copy())
        index._term_words = _readonly(np.frombuffer(term_words, dtype=np.int32).copy())

    def suggestions(self, brand_count: Counter[str], category_count: Counter[str]) -> None:
        """The names offered as "did you mean" (brands, then categories, by text and by pinyin) and
        the brands by name; the counts are of visible goods, so that no hidden brand is named."""
        index = self.index
        names = sorted(brand_count, key=lambda b: -brand_count[b]) + sorted(
            category_count, key=lambda c: -category_count[c]
        )
        names = [name for name in names if name.strip()]
        index.suggest_names = tuple(names)
        text_keys: list[tuple[str, int]] = []
        sound_keys: list[tuple[str, int]] = []
        for i, name in enumerate(names):
            # "Dyson/戴森" answers to dyson戴森, dyson, 戴森 and daisen
            toks = tokens(normalize(name))
            for key in {"".join(toks), *toks}:
                text_keys.append((key, i))
            for key in {pinyin_key("".join(toks)), *(pinyin_key(t) for t in toks if is_han(t))}:
                sound_keys.append((key, i))
        index.suggest_text = (tuple(k for k, _ in text_keys), tuple(i for _, i in text_keys))
        index.suggest_sound = (tuple(k for k, _ in sound_keys), tuple(i for _, i in sound_keys))
        brand_keys: dict[str, str] = {}
        for brand in sorted(brand_count, key=lambda b: -brand_count[b]):
            toks = tokens(normalize(brand))
            for key in ("".join(toks), *toks):
                if key:
                    brand_keys.setdefault(key, brand)
        index.brand_keys = brand_keys
        index.top_categories = tuple(
            sorted(category_count, key=lambda c: (-category_count[c], c))[:SUGGESTIONS]
        )


def _han_terms(word: str) -> set[str]:
    """The terms that reach a Han word: its characters (`u`), bigrams (`b`) and skip-bigrams (`s`),
    its syllables (`q`) and syllable pairs (`p`), and its initials whole (`I`), begun (`K`) and in
    part (`J`)."""
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
    return terms
