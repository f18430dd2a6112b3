"""The search vocabulary: synonyms, aliases, English words for goods, sentence filler, and the title
phrases that only mention goods. Data, not code: `core/search/vocab.toml`, plus the operator's pairs
(`python -m bot synonyms import FILE`, kept in the database) merged in when an index is built.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.search.normalize import normalize, tokens

__all__ = ["Vocabulary", "default_vocabulary", "load_vocabulary"]

VOCAB_FILE = Path(__file__).with_name("vocab.toml")


def _key(text: str) -> str:
    """A vocabulary term in the form queries are matched in: normalised tokens joined by spaces."""
    return " ".join(tokens(normalize(text)))


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """What the engine knows about words beyond the catalog's own text."""

    same_as: dict[str, tuple[str, ...]]  # term → the texts it also finds (normalised, space-joined)
    english: dict[str, str]  # English word or phrase → the Chinese a catalog uses
    filler: frozenset[str]
    gift_markers: tuple[str, ...]
    gift_not: tuple[str, ...]
    fits_markers: tuple[str, ...]
    fits_not: tuple[str, ...]

    def alternatives(self) -> dict[str, tuple[str, ...]]:
        """Every term a query may hold → what else it finds: synonyms, aliases, and English words
        (with the synonyms of their Chinese: power bank → 充电宝, 移动电源)."""
        return _alternatives(self)

    def with_pairs(self, pairs: Iterable[tuple[str, str]]) -> Vocabulary:
        """This vocabulary and the operator's `term → same_as` pairs (one way, like aliases)."""
        same: dict[str, list[str]] = {k: list(v) for k, v in self.same_as.items()}
        for term, target in pairs:
            key, value = _key(term), _key(target)
            if key and value and key != value and value not in same.setdefault(key, []):
                same[key].append(value)
        return Vocabulary(
            {k: tuple(v) for k, v in same.items()}, self.english, self.filler, self.gift_markers,
            self.gift_not, self.fits_markers, self.fits_not,
        )  # fmt: skip


_ALTERNATIVES: dict[int, tuple[Vocabulary, dict[str, tuple[str, ...]]]] = {}


def _alternatives(vocab: Vocabulary) -> dict[str, tuple[str, ...]]:
    cached = _ALTERNATIVES.get(id(vocab))
    if cached is not None and cached[0] is vocab:
        return cached[1]
    out: dict[str, tuple[str, ...]] = dict(vocab.same_as)
    for phrase, chinese in vocab.english.items():
        key, value = _key(phrase), _key(chinese)
        found = [value, *vocab.same_as.get(value, ())]
        out[key] = tuple(dict.fromkeys((*out.get(key, ()), *found)))
    if len(_ALTERNATIVES) > 16:
        _ALTERNATIVES.clear()
    _ALTERNATIVES[id(vocab)] = (vocab, out)
    return out


def load_vocabulary(path: Path = VOCAB_FILE) -> Vocabulary:
    """Read a vocabulary file (TOML: synonyms, aliases, english, filler, markers)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    same: dict[str, list[str]] = {}

    def link(term: str, target: str) -> None:
        key, value = _key(term), _key(target)
        if key and value and key != value and value not in same.setdefault(key, []):
            same[key].append(value)

    for group in data.get("synonyms", []):
        for a in group:
            for b in group:
                link(a, b)
    for alias, name in data.get("aliases", {}).items():
        link(alias, name)
    english = {" ".join(normalize(k).split()): v for k, v in data.get("english", {}).items()}
    return Vocabulary(
        same_as={k: tuple(v) for k, v in same.items()},
        english=english,
        filler=frozenset(normalize(w) for w in data.get("filler", [])),
        gift_markers=tuple(data.get("gift_markers", [])),
        gift_not=tuple(data.get("gift_not", [])),
        fits_markers=tuple(data.get("fits_markers", [])),
        fits_not=tuple(data.get("fits_not", [])),
    )


@lru_cache(maxsize=1)
def default_vocabulary() -> Vocabulary:
    """The packaged vocabulary, read once."""
    return load_vocabulary()


MAX_TERM_CHARS = 100


def parse_pairs(text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """An operator's CSV of `term,same_as` rows (a header row of those names is optional): the
    pairs, and one message per bad row (line and reason). Blank lines are skipped."""
    import csv
    import io

    pairs: list[tuple[str, str]] = []
    errors: list[str] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if line_no == 1 and [c.lower() for c in cells[:2]] == ["term", "same_as"]:
            continue
        if len(cells) != 2 or not cells[0] or not cells[1]:
            errors.append(f"line {line_no}: expected two columns, term,same_as")
        elif max(len(cells[0]), len(cells[1])) > MAX_TERM_CHARS:
            errors.append(f"line {line_no}: longer than {MAX_TERM_CHARS} characters")
        elif not _key(cells[0]) or not _key(cells[1]):
            errors.append(f"line {line_no}: no letters, digits or characters to search by")
        elif _key(cells[0]) == _key(cells[1]):
            errors.append(f"line {line_no}: a term the same as what it stands for")
        else:
            pairs.append((cells[0], cells[1]))
    return pairs, errors
