"""Ranking: which catalog items match a query, how well, and in what order. Pure: no aiogram, no SQL.

* A query is split into *units*, one per Han character and one or more per Latin token (one per
  pinyin syllable or initial it reads as), each a bit of a 64-bit mask. Every matching term marks
  the words it hits (`SearchIndex.words_for`) with the bits it covers in one of ten quality
  classes: characters (1.0), characters inside a longer word that is something else (0.96: 手机
  in 手机壳, Chinese names what a thing is last), Latin prefix (0.9), pinyin or close typo (0.8),
  initials of whole words or loose typo (0.7), 2-letter initials (0.6), initials of part of a
  word (0.5), a word of a gift or compatible-with phrase (0.5: 送洗发水旅行装, 适用华为); and two
  weak ones that add to the score of an item matched otherwise but never make a match: initials
  of a word only begun (0.5) and a lone shared character (0.35). An item's relevance (0–100) is
  the quality-weighted share of the query's units its words cover, so word order does not
  matter, and a unit matched by its characters always scores above the same unit matched
  through pinyin alone (经典 beats 景点 for 经典); typing an item's whole title scores 100.
* People ask in sentences, synonyms, aliases, English and units: jieba (its dictionary and word
  frequencies) takes the filler and everyday chatter out of a sentence; a vocabulary term
  (`core.search.vocab`: 卫生纸 → 卷纸, sk2 → SK-II, power bank → 充电宝) also matches what it stands
  for, at full weight; quantities are one word in one unit (`normalize.canonical_units`).
* Matches are items reaching 35 (45 for a query of characters alone) and 60% of the best match:
  a query whose best match covers too little of it finds nothing, and suggestions are offered
  only when really close. Items are ranked by relevance (rounded), then tier, then score; L0 and
  counterfeit goods are hidden unless asked for. Filters ride in the query
  (`core.search.query`): `L4+`, `L5`, `<100`, `100-300`, `佣金20%+`.
* Speed: items holding one word that covers the whole query need no scoring; for the rest,
  only items holding a word for one of the "required" units (picked so that an item without
  them could not reach the cutoff) are scored, all in numpy.
* Code: `search` parses the query and hands it to `_Query`, whose steps run in this order: a pasted
  sku; the query's units and terms (`_plan`); the words they match (`_Words`); the items holding
  one word that covers the whole query; the units required (`_Required`) and the items scored
  (`_relevance`) under the cutoffs; the page; suggestions when nothing matched (`_suggest`).
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from core.catalog import TIERS, CatalogItem
from core.search.index import SUGGESTIONS, SearchIndex
from core.search.normalize import (
    MAX_QUERY_CHARS,
    han_pinyin,
    is_han,
    looks_like_initials,
    normalize,
    pinyin_key,
    segment,
    split_pinyin,
    tokens,
    word_frequency,
)
from core.search.query import SearchFilters, parse_query

__all__ = ["Hit", "SearchResult", "find_brand", "search"]

# Quality classes, best first: (name, weight per unit).
_EXACT, _INNER, _PREFIX, _SOUND, _LOOSE, _PARTIAL, _FRAGMENT, _MENTION, _BEGUN, _LONE = range(10)
# _INNER: the characters, inside a longer word that is something else (手机 in 手机壳: Chinese puts
# what a thing is last); _MENTION: a word of a gift or compatible-with phrase (送洗发水旅行装).
MEMO_DEPTH = 50  # how many results of a query the index remembers (10 pages of 5)
_CLASS_WEIGHT = (1.0, 0.96, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.35)
# Weak classes add to an item's score but never make it a match by themselves.
_WEAK = (False, False, False, False, False, False, False, False, True, True)
_SUGGEST_TEXT = 75.0  # how close a brand or category must be to be offered instead
_SUGGEST_SOUND = 80.0
_MAX_KEY_TOKENS = 3  # a vocabulary term spans at most this many query tokens (electric tooth brush)
_MAX_KEY_CHARS = 6  # ... or this many characters inside a Han run
_COMMON_WORD = 100  # jieba frequency above which an unmatched word of a sentence is chatter (夏天)
_MAX_UNITS = 64  # one bit per unit in a uint64 mask
_EXACT_BONUS = 3.0  # the whole title typed: 100 instead of 97
_MIN_RELEVANCE = 35.0  # below this share of the query an item is not a match
# ... and for a query of characters alone, half: two homophones out of four characters (紫禁之巅 →
# 东芝) is a look-alike, not a match. Typed pinyin is allowed the lower bar (its splits are guesses).
_MIN_RELEVANCE_HAN = 45.0
_RELATIVE_CUTOFF = 0.6  # ... nor below 60% of the best match
_PRUNE = True  # skip items that cannot reach the cutoff (tests turn it off to check it changes nothing)
_FUZZY_LIMIT = 8
_TIER_INDEX = {t: i for i, t in enumerate(TIERS)}
_Match = tuple[np.ndarray, int, int]  # a term's words, the unit mask they earn, their quality class
_Add = Callable[[np.ndarray | None, int, int], None]  # takes a match (`_Plan.add`)


@dataclass(frozen=True, slots=True)
class Hit:
    """One matching catalog item and how well it matches."""

    item: CatalogItem
    relevance: float  # 0–100


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits for one query, with the filters read out of it."""

    query: str  # as typed
    text: str  # with the filters taken out
    filters: SearchFilters
    hits: list[Hit] = field(default_factory=list)
    total: int = 0  # matches before paging
    suggestions: list[str] = field(default_factory=list)  # closest brands/categories when nothing matched


def search(
    index: SearchIndex,
    query: str,
    *,
    limit: int = 5,
    offset: int = 0,
    include_hidden: bool = False,
    remember: bool = True,
) -> SearchResult:
    """Ranked catalog items for what a streamer typed: relevance first, then tier, then score.

    L0 and counterfeit items are left out unless `include_hidden` (merchants and admins).
    Empty or blank queries give an empty result; a query of filters alone (`L4+ <100`) lists
    everything passing them, best tier first (relevance 100); a pasted sku finds its item. When
    nothing matches, `suggestions` holds the closest brands or categories.

    The first MEMO_DEPTH results of a query are remembered by the index (`remember=False` skips
    that): the next page, the way back from a card, and the same search by someone else are read
    from the memo. The answer is the same either way.
    """
    limit = max(0, int(limit))
    offset = max(0, int(offset))
    if not query or not query.strip():
        return SearchResult(query=query or "", text="", filters=SearchFilters())
    if not remember or offset + limit > MEMO_DEPTH:
        return _answer(index, query, limit, offset, include_hidden)
    key = (query, include_hidden)
    first = index.memo.get(key)
    if first is None:
        first = _answer(index, query, MEMO_DEPTH, 0, include_hidden)
        index.memo.put(key, first)
    return dataclasses.replace(first, hits=first.hits[offset : offset + limit])


def _answer(index: SearchIndex, query: str, limit: int, offset: int, include_hidden: bool) -> SearchResult:
    text, filters = parse_query(query[:MAX_QUERY_CHARS])
    if len(index) == 0:
        return SearchResult(query, text, filters, suggestions=[])
    return _Query(index, query, text, filters, include_hidden, limit, offset).answer()


class _Query:
    """One parsed query against one index, answered in named steps: the sku, the terms and their
    units (`_plan`), the words they match (`_Words`), the items found whole, the items worth
    scoring (`_Required`) and the cutoffs, then the page."""

    def __init__(
        self,
        index: SearchIndex,
        query: str,
        text: str,
        filters: SearchFilters,
        include_hidden: bool,
        limit: int,
        offset: int,
    ) -> None:
        self.index = index
        self.query = query
        self.text = text
        self.filters = filters
        self.include_hidden = include_hidden
        self.limit = limit
        self.offset = offset
        self._in_whole: np.ndarray | None = None  # bool per item: found whole (built once, if needed)

    def answer(self) -> SearchResult:
        by_sku = self._by_sku()
        if by_sku is not None:
            return by_sku
        query_tokens = _query_tokens(self.index, self.text)
        matches, n_units, inner = _plan(self.index, query_tokens)
        if n_units == 0:  # nothing to match: only filters, or words that are all filler
            return self._browse() if self.filters else self._nothing(suggest=bool(self.text))
        if not matches:
            return self._nothing()
        words = _Words.match(self.index, matches, n_units, inner, query_tokens)
        floor = _MIN_RELEVANCE_HAN if all(is_han(tok) for tok in query_tokens) else _MIN_RELEVANCE
        cand, relevance = self._matches(words, matches, floor)
        if len(cand) == 0:
            return self._nothing()
        return self._ranked(cand, relevance)

    def _result(self, hits: list[Hit], total: int) -> SearchResult:
        return SearchResult(self.query, self.text, self.filters, hits=hits, total=total)

    def _nothing(self, suggest: bool = True) -> SearchResult:
        suggestions = _suggest(self.index, self.text) if suggest else []
        return SearchResult(self.query, self.text, self.filters, suggestions=suggestions)

    def _passing(self, cand: np.ndarray) -> np.ndarray:
        """The candidates that pass the filters and visibility."""
        keep = _filter_mask(self.index, cand, self.filters, self.include_hidden)
        return cand if keep is None else cand[keep]

    def _by_sku(self) -> SearchResult | None:
        """A pasted sku finds its item directly, if the filters let it."""
        pos = self.index.sku_position(self.text) if self.text else None
        if pos is None:
            return None
        keep = _filter_mask(self.index, np.array([pos], dtype=np.int64), self.filters, self.include_hidden)
        if keep is not None and not keep.all():
            return None
        hits = [Hit(self.index.items[pos], 100.0)] if self.offset == 0 and self.limit > 0 else []
        return self._result(hits, 1)

    def _browse(self) -> SearchResult:
        """Only filters: everything that passes them, best tier first."""
        ranked = self._passing(self.index.rank_order)
        page = ranked[self.offset : self.offset + self.limit]
        hits = [Hit(self.index.items[int(p)], 100.0) for p in page]
        return self._result(hits, int(len(ranked)))

    def _matches(self, words: _Words, matches: list[_Match], floor: float) -> tuple[np.ndarray, np.ndarray]:
        """The matching items and their relevance: those found whole, and those scored."""
        cand_a, rel_a, partial = self._found_whole(words)
        cand_b, rel_b, strong_b, cutoff = self._scored(words, matches, partial, cand_a, rel_a, floor)
        if len(cand_a) == 0:
            cand, relevance, strength = cand_b, rel_b, strong_b
        elif len(cand_b) == 0:
            cand, relevance, strength = cand_a, rel_a, rel_a
        else:
            cand = np.concatenate((cand_a, cand_b))
            relevance = np.concatenate((rel_a, rel_b))
            strength = np.concatenate((rel_a, strong_b))
        ok = strength >= cutoff - 1e-9
        return cand[ok], relevance[ok]

    def _found_whole(self, words: _Words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items holding one word that matches the whole query by its characters (a brand, a
        category, 牙膏) all score 97 (100 for the whole title): no need to look at their other
        words. Returns them, their relevance, and the other strong words (to score)."""
        n = words.n_units
        full = np.uint64((1 << n) - 1) if n < 64 else np.uint64(2**64 - 1)
        whole = words.table[_EXACT][words.local[words.strong]] == full
        cand = self._passing(self.index.items_with(words.strong[whole]))
        relevance = np.full(len(cand), 100.0 - _EXACT_BONUS)
        if words.title_key is not None and len(cand):
            relevance += _EXACT_BONUS * (self.index.title_keys[cand] == words.title_key)
        return cand, relevance, words.strong[~whole]

    def _scored(
        self,
        words: _Words,
        matches: list[_Match],
        partial: np.ndarray,
        cand_a: np.ndarray,
        rel_a: np.ndarray,
        floor: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """The other items worth scoring, scored: their relevance, their strength (what decides a
        match), and the cutoff. The cutoff is guessed, then set by the best match; if that is
        weaker than guessed, more units are required and the items scored again."""
        required = _Required(self.index, words, matches, partial)
        best_guess = 100.0 - _EXACT_BONUS if len(cand_a) else required.most() * required.per_point
        cutoff = max(floor, best_guess * _RELATIVE_CUTOFF)
        best_a = float(rel_a.max()) if len(cand_a) else 0.0
        while True:
            required.until(cutoff)
            cand_b = self._passing(self._not_in(cand_a, self.index.items_with(required.words())))
            rel_b, strong_b = _relevance(self.index, cand_b, words)
            best = max(best_a, float(strong_b.max()) if len(cand_b) else 0.0)
            real_cutoff = max(floor, best * _RELATIVE_CUTOFF)
            if not required.could_reach(real_cutoff) or required.all_chosen():
                return cand_b, rel_b, strong_b, real_cutoff
            cutoff = real_cutoff

    def _not_in(self, cand_a: np.ndarray, cand_b: np.ndarray) -> np.ndarray:
        """`cand_b` without the items already found whole."""
        if not len(cand_a) or not len(cand_b):
            return cand_b
        if self._in_whole is None:
            self._in_whole = np.zeros(len(self.index), dtype=np.bool_)
            self._in_whole[cand_a] = True
        return cand_b[~self._in_whole[cand_b]]

    def _ranked(self, cand: np.ndarray, relevance: np.ndarray) -> SearchResult:
        """The requested page: relevance (rounded), then the index's static key (tier, score, order)."""
        key = (np.rint(relevance).astype(np.int64) << self.index.key_shift) | self.index.static_key[cand]
        page = _page(cand, key, self.offset, self.limit)
        hits = [Hit(self.index.items[int(cand[p])], round(float(relevance[p]), 2)) for p in page]
        return self._result(hits, int(len(cand)))


@dataclass(frozen=True, slots=True)
class _Words:
    """The words the query's terms match, and the units each covers in each quality class."""

    table: np.ndarray  # uint64 unit masks: a row per class, a column per matched word (column 0: none)
    local: np.ndarray  # word id → its column
    strong: np.ndarray  # the words that can make a match (a mention word, through _MENTION)
    n_units: int
    title_key: int | None  # when every token is a catalog word: the hash of their set (a title typed)

    @classmethod
    def match(
        cls,
        index: SearchIndex,
        matches: list[_Match],
        n_units: int,
        inner: list[tuple[np.ndarray, int]],
        query_tokens: list[str],
    ) -> _Words:
        """Gather the matches by word; then demote mentions and words holding a token inside."""
        lens = np.fromiter((len(m[0]) for m in matches), dtype=np.int64, count=len(matches))
        all_w = np.concatenate([m[0] for m in matches])
        all_m = np.repeat(np.array([m[1] for m in matches], dtype=np.uint64), lens)
        all_c = np.repeat(np.array([m[2] for m in matches], dtype=np.int64), lens)
        strong = np.repeat(np.array([not _WEAK[m[2]] for m in matches], dtype=bool), lens)
        uniq, inv = np.unique(all_w, return_inverse=True)
        table = np.zeros((len(_CLASS_WEIGHT), len(uniq) + 1), dtype=np.uint64)
        np.bitwise_or.at(table, (all_c, inv + 1), all_m)
        local = np.zeros(len(index.words), dtype=np.int32)
        local[uniq] = np.arange(1, len(uniq) + 1, dtype=np.int32)
        _demote(index, table, local, uniq, inner)
        word_ids = [index.vocab.get(tok) for tok in query_tokens]
        title_key = hash(frozenset(word_ids)) if None not in word_ids else None
        strong_words = np.unique(all_w[strong])
        strong_words = strong_words[~index.mention[strong_words]] if len(strong_words) else strong_words
        mentioned = uniq[index.mention[uniq]]
        if len(mentioned):
            strong_words = np.union1d(strong_words, mentioned[table[_MENTION][local[mentioned]] != 0])
        return cls(table, local, strong_words, n_units, title_key)


class _Required:
    """Which units an item must cover to pass a cutoff, and so which items are worth scoring.

    An item can only pass the cutoff if it covers enough units, so some units are *required* and
    only items holding a word that covers one of them are looked at. The units required are the
    cheapest (fewest items to look at per point they could add) until what is left could not reach
    the cutoff even at the best quality any word offers (2024款, 500ml and 户外 are never required
    next to a rare brand or product). Weak matches do not count towards the cutoff, so they need no
    room. Exact either way: if the best match turns out weaker than guessed, more units are
    required under the real cutoff (`_Query._scored`).
    """

    def __init__(self, index: SearchIndex, words: _Words, matches: list[_Match], partial: np.ndarray) -> None:
        n_units = words.n_units
        self.partial = partial  # the strong words not matching the whole query
        self.sizes = index.item_counts(partial).tolist()
        covers = np.bitwise_or.reduce(words.table, axis=0)[words.local[partial]].tolist()
        self.best_w = _best_weights(matches, n_units)
        self.by_unit = [[i for i, c in enumerate(covers) if c >> b & 1] for b in range(n_units)]
        self.per_point = (100.0 - _EXACT_BONUS) / n_units
        self.required = [False] * n_units
        self.chosen = [False] * len(partial)
        self.room = sum(self.best_w)  # most points an item outside the chosen words could still get

    def most(self) -> float:
        """The most points any item could get."""
        return sum(self.best_w)

    def could_reach(self, cutoff: float) -> bool:
        """Could an item holding none of the chosen words still reach `cutoff`?"""
        return self.room * self.per_point >= cutoff - 1e-9

    def all_chosen(self) -> bool:
        return all(self.chosen)

    def words(self) -> np.ndarray:
        """The words whose items are to be scored."""
        return self.partial[np.array(self.chosen, dtype=bool)]

    def until(self, cutoff: float) -> None:
        """Require the cheapest units until no item without them could reach `cutoff`."""
        while self.could_reach(cutoff) or not _PRUNE:
            pick = self._cheapest()
            if pick < 0:
                return
            self.required[pick] = True
            self.room -= self.best_w[pick]
            for i in self.by_unit[pick]:
                self.chosen[i] = True

    def _cheapest(self) -> int:
        """The unit with the fewest items still to look at per point it could add; -1 if none."""
        pick, pick_rate = -1, 0.0
        for b, gain in enumerate(self.best_w):
            if self.required[b] or gain <= 0 or not self.by_unit[b]:
                continue
            rate = sum(self.sizes[i] for i in self.by_unit[b] if not self.chosen[i]) / gain
            if pick < 0 or rate < pick_rate:
                pick, pick_rate = b, rate
        return pick


def _best_weights(matches: list[_Match], n_units: int) -> list[float]:
    """The best quality a strong match offers each unit."""
    best = [0.0] * n_units
    for _, mask, klass in matches:
        if _WEAK[klass]:
            continue
        weight = _CLASS_WEIGHT[klass]
        while mask:
            low = mask & -mask
            b = low.bit_length() - 1
            best[b] = max(best[b], weight)
            mask ^= low
    return best


def find_brand(index: SearchIndex, text: str) -> str | None:
    """The catalog brand a typed name means, in any case or half ("dyson", "戴森", "Dyson/戴森"),
    or through an alias (sk2 → SK-II, 黑人 → 好来); None if it names no brand streamers can see."""
    key = " ".join(tokens(normalize(text[:MAX_QUERY_CHARS])))
    if not key:
        return None
    brands = index.brand_keys
    for candidate in (key, key.replace(" ", ""), *index.vocabulary.alternatives().get(key, ())):
        brand = brands.get(candidate) or brands.get(candidate.replace(" ", ""))
        if brand is not None:
            return brand
    return None


def _latin_units(token: str) -> int:
    """How many query units a Latin/digit word weighs: its pinyin syllables, else by length.
    (Pinyin initials weigh one unit a letter: each stands for a character.)"""
    syllables = split_pinyin(token)
    if syllables:
        return min(len(syllables), 8)
    return 1 if len(token) <= 3 else 2 if len(token) <= 8 else 3


def _demote(
    index: SearchIndex,
    table: np.ndarray,
    local: np.ndarray,
    uniq: np.ndarray,
    inner: list[tuple[np.ndarray, int]],
) -> None:
    """Matches on what an item only mentions drop to _MENTION; the characters inside a longer word
    that is something else (手机 in 手机壳) drop from _EXACT to _INNER."""
    for wids, mask in inner:
        cols = local[wids]
        cols = cols[cols > 0]
        if not len(cols):
            continue
        bits = np.uint64(mask)
        moved = table[_EXACT][cols] & bits
        table[_EXACT][cols] &= ~bits
        table[_INNER][cols] |= moved
    mentioned = index.mention[uniq]
    if mentioned.any():
        cols = np.flatnonzero(mentioned) + 1
        for klass in range(len(_CLASS_WEIGHT)):
            if not _WEAK[klass] and klass != _MENTION:
                table[_MENTION][cols] |= table[klass][cols]
                table[klass][cols] = 0


def _plan(
    index: SearchIndex, query_tokens: list[str]
) -> tuple[list[_Match], int, list[tuple[np.ndarray, int]]]:
    """The query's term matches as (word ids, unit mask, quality class), its unit count, and the
    words that hold a Han token only inside something longer (to demote)."""
    plan = _Plan(index)
    for tok in query_tokens:
        if plan.next_bit >= _MAX_UNITS:
            break
        if is_han(tok):
            plan.han(tok)
        else:
            plan.latin(tok)
    plan.flush_pinyin()
    _alternative_matches(index, plan.spans, plan.add)
    return plan.matches, plan.next_bit, plan.inner


class _Plan:
    """The units and terms of a query, read token by token: each token takes the next bits of the
    unit mask, and each of its terms adds the words it reaches with the bits it covers."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.matches: list[_Match] = []
        self.inner: list[tuple[np.ndarray, int]] = []  # words holding a Han token not at their end
        self.spans: list[tuple[str, int, int]] = []  # (token, first bit, units)
        self.next_bit = 0
        self._pinyin_run: list[tuple[str, int]] = []  # (syllable, bit) across adjacent pinyin tokens

    def add(self, wids: np.ndarray | None, mask: int, klass: int) -> None:
        if wids is not None and len(wids) and mask:
            self.matches.append((wids, mask, klass))

    def _take(self, tok: str, units: int) -> int:
        """The first of the `units` bits the token takes."""
        base = self.next_bit
        self.next_bit += units
        self.spans.append((tok, base, units))
        return base

    def flush_pinyin(self) -> None:
        """Syllable pairs across the pinyin tokens just read (`ya gao`), or a lone syllable."""
        run = self._pinyin_run
        if len(run) == 1:
            syllable, bit = run[0]
            if len(syllable) >= 2:
                self.add(self.index.words_for("q" + syllable), 1 << bit, _SOUND)
        for (a, abit), (b, bbit) in zip(run, run[1:], strict=False):
            self.add(self.index.words_for(f"p{a} {b}"), (1 << abit) | (1 << bbit), _SOUND)
        run.clear()

    def han(self, tok: str) -> None:
        """A unit per character: its bigrams, their pinyin and skip-bigrams, its lone characters."""
        self.flush_pinyin()
        tok = tok[: _MAX_UNITS - self.next_bit]
        base = self._take(tok, len(tok))
        words_for, add = self.index.words_for, self.add
        syllables = han_pinyin(tok)
        if len(tok) == 1:
            add(words_for("u" + tok), 1 << base, _EXACT)
            add(words_for("q" + syllables[0]), 1 << base, _SOUND)
            return
        for i in range(len(tok) - 1):
            mask = 3 << (base + i)
            add(words_for("b" + tok[i : i + 2]), mask, _EXACT)
            add(words_for(f"p{syllables[i]} {syllables[i + 1]}"), mask, _SOUND)
            add(words_for("s" + tok[i : i + 2]), mask, _SOUND)  # 纯奶 → 纯牛奶
        for i, ch in enumerate(tok):
            add(words_for("u" + ch), 1 << (base + i), _LONE)
        _inner_words(self.index, tok, base, self.inner)

    def latin(self, tok: str) -> None:
        """A Latin/digit token: the catalog word itself, words it begins, close typos, its pinyin
        syllables (paired with the next token's), and the words whose initials it spells."""
        index = self.index
        exact = index.latin_ids.get(tok)
        prefixed = index.latin_prefixed(tok, exclude=exact) if len(tok) >= 2 else None
        # `ynby` is initials; `dyson` (a catalog word) and `dys` (the start of one) are not
        initials = looks_like_initials(tok) and (
            len(tok) <= 3 or (exact is None and (prefixed is None or not len(prefixed)))
        )
        sounds = split_pinyin(tok)
        units = min(len(tok) if initials and not sounds else _latin_units(tok), _MAX_UNITS - self.next_bit)
        base = self._take(tok, units)
        all_bits = ((1 << units) - 1) << base
        if sounds:
            for j, syllable in enumerate(sounds):
                self._pinyin_run.append((syllable, base + j * units // len(sounds)))
        else:
            self.flush_pinyin()
        if exact is not None:
            self.add(np.array([exact], dtype=np.int32), all_bits, _EXACT)
        mention = index.latin_mention_ids.get(tok)
        if mention is not None:
            self.add(np.array([mention], dtype=np.int32), all_bits, _EXACT)
        self.add(prefixed, all_bits, _PREFIX)
        if exact is None and len(tok) >= 3 and tok.isalpha():
            self._typos(tok, all_bits)
        if initials:
            _initials(index, tok, base, units, self.add)

    def _typos(self, tok: str, bits: int) -> None:
        """Catalog words a typo or two away: close ones count as sound (0.8), looser ones 0.7."""
        cutoff = 85.0 if len(tok) == 3 else 75.0 if len(tok) < 8 else 80.0
        found = process.extract(
            tok, self.index.latin_sorted, scorer=fuzz.ratio, limit=_FUZZY_LIMIT, score_cutoff=cutoff
        )
        for _, score, i in found:
            self.add(self.index.latin_sorted_ids[i : i + 1], bits, _SOUND if score >= 85.0 else _LOOSE)


def _inner_words(index: SearchIndex, tok: str, base: int, inner: list[tuple[np.ndarray, int]]) -> None:
    """The catalog words holding the token, or one of its dictionary words, not at their end:
    a 手机壳 is not a 手机, 运动鞋 is what a 运动 query wants more than 运动户外."""
    pieces = [(0, tok)]
    if len(tok) > 2:
        at = 0
        for word in segment(tok):
            if len(word) >= 2 and word != tok and word_frequency(word):
                pieces.append((at, word))
            at += len(word)
    names = index.words
    whole = index.words_containing(tok)
    for at, piece in pieces:
        holding = whole if at == 0 and piece == tok else index.words_containing(piece)
        if holding is None:
            continue
        if piece != tok and whole is not None:  # a word holding all that was typed is not demoted for a part
            holding = np.setdiff1d(holding, whole, assume_unique=True)
        longer = holding[[not names[w].endswith(piece) for w in holding.tolist()]]
        if len(longer):
            inner.append((longer, ((1 << len(piece)) - 1) << (base + at)))


def _alternative_matches(index: SearchIndex, spans: list[tuple[str, int, int]], add: _Add) -> None:
    """Synonyms, aliases and English words: a vocabulary term in the query also finds, as if typed,
    what it stands for (卫生纸 → 卷纸, sk2 → SK-II, power bank → 充电宝 and 移动电源)."""
    alternatives = index.vocabulary.alternatives()
    if not alternatives:
        return
    for key, mask in _vocabulary_keys(spans):
        for target in alternatives.get(key, ()):
            parts = target.split()
            positions = [b for b in range(_MAX_UNITS) if mask >> b & 1]
            for k, part in enumerate(parts):  # each word of the target covers its share of the term
                lo = k * len(positions) // len(parts)
                hi = max(lo + 1, (k + 1) * len(positions) // len(parts))
                add(index.words_containing(part), sum(1 << b for b in positions[lo:hi]), _EXACT)


def _vocabulary_keys(spans: list[tuple[str, int, int]]) -> Iterator[tuple[str, int]]:
    """Every stretch of the query a vocabulary term could be, with the units it covers: one to
    three tokens (electric tooth brush), or a few characters inside a longer Han token."""
    for i, (tok, base, _units) in enumerate(spans):
        mask = 0
        for n in range(1, min(_MAX_KEY_TOKENS, len(spans) - i) + 1):
            _, b, u = spans[i + n - 1]
            mask |= ((1 << u) - 1) << b
            yield (tok if n == 1 else " ".join(s[0] for s in spans[i : i + n])), mask
        if is_han(tok) and len(tok) > 2:
            for a in range(len(tok) - 1):
                for z in range(a + 2, min(len(tok), a + _MAX_KEY_CHARS) + 1):
                    if z - a != len(tok):
                        yield tok[a:z], ((1 << (z - a)) - 1) << (base + a)


def _query_tokens(index: SearchIndex, text: str) -> list[str]:
    """Query tokens, with run-together Latin taken apart: `pizzahut` → pizza hut (catalog words),
    `qqyinyue` → qq yinyue, `txu` → t xu (a catalog word stuck to pinyin)."""
    out: list[str] = []
    known = index.vocabulary.alternatives()
    for tok in _without_chatter(index, tokens(normalize(text))):
        if is_han(tok) or not tok.isalpha() or tok in index.latin_ids or tok in known or split_pinyin(tok):
            out.append(tok)
            continue
        pieces = _latin_pieces(index, tok)
        if pieces is None and not _near_latin_word(index, tok):
            pieces = _pinyin_with_word(index, tok)
        out.extend(pieces or (tok,))
    return out


def _without_chatter(index: SearchIndex, toks: list[str]) -> list[str]:
    """A sentence's goods words: `我想找一款适合夏天直播卖的防晒霜` → 防晒霜.

    Han runs are segmented (jieba) only to find filler words (我, 想找, 一款, 的...); the words
    between them stay together as typed. A query is a sentence when it drops a filler word of two
    characters or more, or two fillers. In a sentence, a common word (by jieba's frequency) that
    no catalog word holds is chatter too (夏天), as long as something else in it matches.
    """
    if not any(is_han(t) and len(t) >= 3 for t in toks):
        return toks
    filler = index.vocabulary.filler
    runs: list[list[str]] = []  # kept words, grouped as they stood together
    dropped: list[str] = []
    for tok in toks:
        if not is_han(tok):
            runs.append([tok])
            continue
        current: list[str] = []
        for word in segment(tok):
            if word in filler:
                dropped.append(word)
                if current:
                    runs.append(current)
                    current = []
            else:
                current.append(word)
        if current:
            runs.append(current)
    if not (len(dropped) >= 2 or any(len(w) >= 2 for w in dropped)):
        return toks
    held = [_held(index, run) for run in runs]
    if any(held):
        runs = [run for run, ok in zip(runs, held, strict=True) if ok or not _common(run)]
    return ["".join(run) for run in runs] or toks


def _held(index: SearchIndex, run: list[str]) -> bool:
    """Does some catalog word hold two characters of this run side by side?"""
    whole = "".join(run)
    if not is_han(whole) or len(whole) == 1:
        return True
    return any(index.words_for("b" + whole[i : i + 2]) is not None for i in range(len(whole) - 1))


def _common(run: list[str]) -> bool:
    """Everyday words (夏天, 家里) rather than a name: every dictionary word in it is frequent."""
    words = [w for w in run if len(w) >= 2]
    return bool(words) and all(word_frequency(w) >= _COMMON_WORD for w in words)


def _near_latin_word(index: SearchIndex, tok: str) -> bool:
    """A catalog word starts with `tok` or is a typo away from it (`tore` → toread, `pilut` → pilot)."""
    words = index.latin_sorted
    at = bisect_left(words, tok)
    if at < len(words) and words[at].startswith(tok):
        return True
    return process.extractOne(tok, words, scorer=fuzz.ratio, score_cutoff=75.0) is not None


def _latin_pieces(index: SearchIndex, tok: str) -> tuple[str, ...] | None:
    """`tok` as 2–4 catalog words of 3+ letters, fewest pieces first."""
    known = index.latin_ids
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


def _pinyin_with_word(index: SearchIndex, tok: str) -> tuple[str, ...] | None:
    for k in range(1, min(4, len(tok) - 1)):
        if tok[:k] in index.latin_ids and split_pinyin(tok[k:]):
            return tok[:k], tok[k:]
        if tok[-k:] in index.latin_ids and split_pinyin(tok[:-k]):
            return tok[:-k], tok[-k:]
    return None


def _initials(index: SearchIndex, tok: str, base: int, units: int, add: _Add) -> None:
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
            words = index.words_for("I" + piece)
            if words is not None:
                long_piece = long_piece or strong
                reach[j] = reach[j] or reach[i]
                if strong and size == m and m <= 3 and len(words) > 1:
                    # `yg` reads as many words: the ones that are dictionary words (jieba) and that
                    # many goods hold (牙膏) before a series name (羽感) or a rare word (哑光)
                    names = index.words
                    weight = index.item_counts(words) * np.array(
                        [1.0 if word_frequency(names[w]) else 0.25 for w in words.tolist()]
                    )
                    common = weight * 2 >= weight.max()
                    found.append((words[common], bits, _LOOSE))
                    found.append((words[~common], bits, _PARTIAL))
                    continue
                found.append((words, bits, _LOOSE if strong else _PARTIAL))
            if size >= 3 or j == m:
                # a 2-letter start of a longer word only adds to items found otherwise
                words = index.words_for(("J" if size >= 3 else "K") + piece)
                if words is not None:
                    long_piece = long_piece or strong
                    if j == m:
                        reach[j] = reach[j] or reach[i]
                    found.append((words, bits, _FRAGMENT if size >= 3 else _BEGUN))
    if m >= 4 and not long_piece and not reach[m]:
        return
    for words, bits, klass in found:
        add(words, bits, klass)


def _filter_mask(
    index: SearchIndex, cand: np.ndarray, filters: SearchFilters, include_hidden: bool
) -> np.ndarray | None:
    """Which candidates pass the filters and visibility; None when all do (nothing to check)."""
    keep: np.ndarray | None = None

    def both(mask: np.ndarray) -> None:
        nonlocal keep
        keep = mask if keep is None else keep & mask

    if not include_hidden:
        both(index.visible[cand])
    if filters.tier is not None:
        both(index.tier[cand] == _TIER_INDEX[filters.tier])
    if filters.min_tier is not None:
        both(index.tier[cand] >= _TIER_INDEX[filters.min_tier])
    if filters.price_min is not None:
        both(index.price[cand] >= filters.price_min - 1e-9)
    if filters.price_max is not None:
        both(index.price[cand] <= filters.price_max + 1e-9)
    if filters.min_commission is not None:
        both(index.commission[cand] >= filters.min_commission - 1e-9)
    return keep


def _page(cand: np.ndarray, key: np.ndarray, offset: int, limit: int) -> np.ndarray:
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


def _suggest(index: SearchIndex, text: str) -> list[str]:
    """The brands and categories closest to `text` by characters or by sound; else the biggest
    categories, so that nothing found is never a dead end."""
    query = "".join(tokens(normalize(text)))
    out: list[str] = []
    if query and index.suggest_names:
        scored: dict[int, float] = {}
        # Close means close: 参半 is not 三顿半 (one character in common), 挖掘机 is not Whiskas.
        probes = (
            (query, index.suggest_text, fuzz.WRatio, _SUGGEST_TEXT),
            (pinyin_key(query), index.suggest_sound, fuzz.ratio, _SUGGEST_SOUND),
        )
        for probe, (choices, owners), scorer, cutoff in probes:
            if not probe:
                continue
            found = process.extract(probe, choices, scorer=scorer, limit=30, score_cutoff=cutoff)
            for _, score, at in found:
                owner = owners[at]
                scored[owner] = max(scored.get(owner, 0.0), score)
        out = [index.suggest_names[i] for i in sorted(scored, key=lambda i: (-scored[i], i))]
    for name in index.top_categories:
        if len(out) >= SUGGESTIONS:
            break
        if name not in out:
            out.append(name)
    return out[:SUGGESTIONS]


def _relevance(index: SearchIndex, cand: np.ndarray, words: _Words) -> tuple[np.ndarray, np.ndarray]:
    """0–100 per candidate: the quality-weighted share of query units its words cover; and the
    same without weak matches (what decides whether it is a match at all)."""
    if len(cand) == 0:
        return np.zeros(0, dtype=np.float64), np.zeros(0, dtype=np.float64)
    table, n_units, title_key = words.table, words.n_units, words.title_key
    held, offsets = index.words_of_items(cand)
    cols = words.local[held]
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
        bonus = _EXACT_BONUS * (index.title_keys[cand] == title_key)
        relevance = relevance + bonus
        strength = strength + bonus
    return relevance, strength
