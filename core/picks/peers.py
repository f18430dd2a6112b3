"""The reference mix: the mean mix of the streamers most similar to one (kNN over mixes), else the
platform's. Pure: plain values in and out, numpy inside `PeerIndex`; randomness is seeded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.picks.mix import Mix, mix_from_sales, platform_mix

__all__ = ["DEFAULT_K", "DEFAULT_POOL", "MIN_PEERS", "PeerIndex", "Reference", "Source", "reference_mix"]

Source = Literal["peers", "platform"]
"""Where a reference mix came from: similar streamers, or the platform as a whole."""

DEFAULT_K = 20
"""How many similar streamers make a reference mix."""

MIN_PEERS = 5
"""Fewer similar streamers than this and the reference falls back to the platform's mix."""

DEFAULT_POOL = 8192
"""Most candidates one streamer is compared with (see `PeerIndex`)."""

# Queries x candidates per similarity chunk in the batch kNN (float32 cells): 4 MB stays in cache.
_BLOCK_CELLS = 1_000_000

# Candidate sets (see `PeerIndex`): a category's block, two blocks joined, a pair block.
_BLOCK, _WIDENED, _PAIR = 0, 1, 2
_MAX_WORKERS = 4
_PAIR_DEPTH = 3


@dataclass(frozen=True, slots=True)
class Reference:
    """The mix a streamer is compared with, and where it came from."""

    mix: Mix
    source: Source
    peer_count: int


class PeerIndex:
    """All streamers' mixes as one numpy matrix, for finding each one's most similar peers.

    Similarity is the cosine of the category-share vectors. The reference mix of a streamer is
    the mean mix of their ``k`` most similar peers (never themselves); streamers without data
    are never anyone's peer.

    **Approximation.** Exact kNN over 100,000 x 100,000 pairs means ranking ~10^10 similarities,
    beyond the budget of a daily pass on two cores. Instead each streamer is ranked exactly
    against a bounded candidate set that shares their biggest category:

    1. *Category blocks.* Every streamer is a candidate in the block of each of their top
       ``depth`` categories (default 2). A streamer whose biggest category's block holds at most
       ``pool`` streamers is compared with that whole block: exact kNN among everyone who has
       that category among their top two, so a streamer split evenly between two categories
       still meets the peers dominated by the other one.
    2. *Pair blocks for big categories.* When that block is bigger than ``pool``, a streamer
       who sells more than one category is compared instead with the pair block of their top
       two categories: everyone who has both among their top three.
    3. *Fixed candidate pool.* Any candidate set bigger than ``pool`` is cut to a seeded uniform
       sample of ``pool`` members, so the work per streamer is bounded by ``pool`` whatever the
       platform's skew. (A single-category streamer in a big category is compared with the
       sampled category block; their exact peers, single-category streamers of that category,
       are all equally similar, so a sample finds them.)
    4. *Exact within the candidates.* Cosine similarities (float32) in cache-sized chunks, top
       ``k`` by ``argpartition``, chunks spread over threads.

    A streamer whose block has at most ``k`` members is also compared with the block of their
    second category; with fewer than ``min_peers`` peers found, the reference falls back to the
    platform mix. `benchmarks/picks_speed.py` measures the approximation against exact kNN on a
    sample: on its synthetic 100,000 streamers, recall@20 ~0.99 and a mean L1 distance of 0.005
    between the approximate and the exact reference mix.
    """

    def __init__(
        self,
        ids: np.ndarray,
        categories: tuple[str, ...],
        shares: np.ndarray,
        platform: Mix,
        *,
        depth: int,
        pool: int,
        min_peers: int,
        seed: int,
    ) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        if pool < 1:
            raise ValueError("pool must be at least 1")
        self.categories = categories
        self.platform: Mix = dict(platform)
        self.min_peers = min_peers
        self._ids = ids
        self._row = {int(streamer_id): row for row, streamer_id in enumerate(ids.tolist())}
        self._column = {category: column for column, category in enumerate(categories)}
        self._shares = shares  # float64 (n, d); rows sum to 1, or are all zero (no data)
        self._unit = _unit_rows(shares).astype(np.float32)  # for cosine similarity
        self._pool = pool
        top = _top_categories(shares, max(depth, _PAIR_DEPTH))  # (n, depth), -1 where fewer
        self._blocks, self._full_sizes = self._build_blocks(top[:, :depth], pool, seed)
        self._pairs = self._build_pairs(top[:, :_PAIR_DEPTH], pool, seed)

    @classmethod
    def build(
        cls,
        mixes: Mapping[int, Mapping[str, float]],
        categories: Iterable[str] | None = None,
        *,
        platform: Mapping[str, float] | None = None,
        depth: int = 2,
        pool: int = DEFAULT_POOL,
        min_peers: int = MIN_PEERS,
        seed: int = 0,
    ) -> PeerIndex:
        """Index streamer id -> mix (an empty mix means no data).

        ``categories`` fixes the column order; categories found in the mixes but not listed are
        appended (sorted). ``platform`` is the fallback mix; pass ``platform_mix(sales)`` for
        the GMV-weighted one, otherwise the mean of the mixes is used.
        """
        known = list(dict.fromkeys(categories or ()))
        listed = set(known)
        extra = sorted({c for mix in mixes.values() for c in mix if c and c not in listed})
        columns = tuple(known + extra)
        column = {category: index for index, category in enumerate(columns)}
        ids = np.fromiter(mixes.keys(), dtype=np.int64, count=len(mixes))
        shares = np.zeros((len(mixes), len(columns)), dtype=np.float64)
        for row, mix in enumerate(mixes.values()):
            for category, share in mix.items():
                if category and math.isfinite(share) and share > 0:
                    shares[row, column[category]] = share
        totals = shares.sum(axis=1, keepdims=True)
        np.divide(shares, totals, out=shares, where=totals > 0)
        if platform is None:
            platform = platform_mix(mixes.values())
        return cls(
            ids,
            columns,
            shares,
            mix_from_sales(platform),
            depth=depth,
            pool=pool,
            min_peers=min_peers,
            seed=seed,
        )

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, streamer_id: object) -> bool:
        return streamer_id in self._row

    def block_sizes(self) -> dict[str, int]:
        """Candidates per category block (after the pool cap); for stats and tests."""
        return {self.categories[c]: len(block) for c, block in enumerate(self._blocks)}

    def platform_reference(self) -> Reference:
        """The fallback: the platform's mix."""
        return Reference(dict(self.platform), "platform", 0)

    def reference(
        self, own: Mapping[str, float], *, k: int = DEFAULT_K, exclude: int | None = None
    ) -> Reference:
        """The reference for one mix; ``exclude`` is the streamer's own id if they are indexed."""
        vector = np.zeros((1, len(self.categories)), dtype=np.float64)
        for category, share in own.items():
            column = self._column.get(category)
            if column is not None and math.isfinite(share) and share > 0:
                vector[0, column] = share
        total = vector.sum()
        if total > 0:
            vector /= total
        self_row = self._row.get(exclude, -1) if exclude is not None else -1
        return self._query(vector, np.array([self_row], dtype=np.int64), k)[0]

    def references(self, ids: Iterable[int], k: int = DEFAULT_K) -> list[Reference]:
        """References for many indexed streamers at once (the digest pass); unknown ids get the platform."""
        rows = np.array([self._row.get(int(streamer_id), -1) for streamer_id in ids], dtype=np.int64)
        vectors = np.zeros((len(rows), len(self.categories)), dtype=np.float64)
        known = rows >= 0
        vectors[known] = self._shares[rows[known]]
        return self._query(vectors, rows, k)

    def peers(self, streamer_id: int, k: int = DEFAULT_K) -> list[int]:
        """Ids of the (approximately) ``k`` most similar streamers, most similar first; for diagnostics."""
        row = self._row.get(int(streamer_id), -1)
        if row < 0:
            return []
        vector = self._shares[row : row + 1]
        nearest = self._search(vector, np.array([row], dtype=np.int64), k)[0]
        nearest = nearest[nearest >= 0]
        similarity = self._unit[nearest] @ self._unit[row]
        order = np.lexsort((self._ids[nearest], -similarity))
        return [int(peer) for peer in self._ids[nearest[order]]]

    # ------------------------------------------------------------------ internals

    def _build_blocks(self, top: np.ndarray, pool: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
        """Per category: the streamers with it among their top categories, sampled down to ``pool``."""
        blocks, full_sizes = [], []
        for column in range(len(self.categories)):
            members = np.flatnonzero((top == column).any(axis=1))
            full_sizes.append(len(members))
            blocks.append(_sample(members, pool, seed, column))
        return blocks, full_sizes

    def _build_pairs(self, top: np.ndarray, pool: int, seed: int) -> dict[tuple[int, int], np.ndarray]:
        """Per pair of categories: the streamers with both among their top three, sampled down to ``pool``."""
        d = len(self.categories)
        codes = []
        for i in range(top.shape[1]):
            for j in range(i + 1, top.shape[1]):
                a, b = np.minimum(top[:, i], top[:, j]), np.maximum(top[:, i], top[:, j])
                codes.append(np.where(a >= 0, a * d + b, -1))
        if not codes:
            return {}
        code = np.stack(codes, axis=1)
        rows = np.repeat(np.arange(len(top)), code.shape[1])
        code = code.ravel()
        rows, code = rows[code >= 0], code[code >= 0]
        if len(code) == 0:
            return {}
        order = np.argsort(code, kind="stable")  # rows stay sorted within each pair
        rows, code = rows[order], code[order]
        pairs: dict[tuple[int, int], np.ndarray] = {}
        starts = np.flatnonzero(np.diff(code, prepend=-1))
        for start, stop in zip(starts, [*starts[1:], len(code)], strict=True):
            a, b = divmod(int(code[start]), d)
            pairs[(a, b)] = _sample(rows[start:stop], pool, seed, d + int(code[start]))
        return pairs

    def _group_key(self, first: int, second: int, k: int) -> tuple[int, ...]:
        """Which candidates a query with these top two categories is compared with."""
        if self._full_sizes[first] <= self._pool:
            if len(self._blocks[first]) <= k and second >= 0:
                return (_WIDENED, first, second)  # too few: add the second category's block
            return (_BLOCK, first)  # exact within the whole block
        if second >= 0:
            pair = self._pairs.get((min(first, second), max(first, second)))
            if pair is not None and len(pair) > k:
                return (_PAIR, min(first, second), max(first, second))
        return (_BLOCK, first)  # a sample of a big block

    def _candidates(self, key: tuple[int, ...]) -> np.ndarray:
        if key[0] == _BLOCK:
            return self._blocks[key[1]]
        if key[0] == _PAIR:
            return self._pairs[(key[1], key[2])]
        return np.union1d(self._blocks[key[1]], self._blocks[key[2]])

    def _search(self, vectors: np.ndarray, self_rows: np.ndarray, k: int) -> np.ndarray:
        """Rows of each query's ``k`` nearest candidates, -1 padded; ``self_rows`` are excluded (-1: none)."""
        if k < 1:
            raise ValueError("k must be at least 1")
        neighbors = np.full((len(vectors), k), -1, dtype=np.int64)
        top = _top_categories(vectors, 2)
        unit = _unit_rows(vectors).astype(np.float32)

        groups: dict[tuple[int, ...], list[int]] = {}
        for query, (first, second) in enumerate(top.tolist()):
            if first >= 0:  # no data: nobody is similar
                groups.setdefault(self._group_key(first, second, k), []).append(query)

        # Work in chunks of queries x candidates small enough to stay in cache; chunks are
        # independent (each fills its own rows of `neighbors`) and numpy releases the GIL in
        # einsum and argpartition, so threads use every core.
        tasks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for key, members in groups.items():
            candidates = self._candidates(key)
            if len(candidates) == 0:
                continue
            queries = np.array(members, dtype=np.int64)
            candidate_unit = np.ascontiguousarray(self._unit[candidates].T)  # (d, candidates)
            step = max(1, _BLOCK_CELLS // len(candidates))
            for start in range(0, len(queries), step):
                tasks.append((queries[start : start + step], candidates, candidate_unit))

        def rank(task: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
            chunk, candidates, candidate_unit = task
            # einsum, not `@`: a BLAS call this thin spends more time waking BLAS threads than
            # multiplying, and is far slower still when the machine is busy.
            similarity = np.einsum("qd,dc->qc", unit[chunk], candidate_unit)
            # A streamer is never their own peer.
            rows = self_rows[chunk]
            position = np.searchsorted(candidates, rows).clip(max=len(candidates) - 1)
            is_self = (rows >= 0) & (candidates[position] == rows)
            similarity[np.flatnonzero(is_self), position[is_self]] = -np.inf
            if len(candidates) > k:
                nearest = np.argpartition(similarity, len(candidates) - k, axis=1)[:, -k:]
                neighbors[chunk] = candidates[nearest]
            else:
                found = np.where(np.isfinite(similarity), candidates, -1)
                neighbors[chunk, : len(candidates)] = -np.sort(-found, axis=1)  # -1s last

        workers = min(len(tasks), _worker_count())
        if workers <= 1:
            for task in tasks:
                rank(task)
        else:
            with ThreadPoolExecutor(max_workers=workers) as executor:
                for _ in executor.map(rank, tasks):
                    pass
        return neighbors

    def _query(self, vectors: np.ndarray, self_rows: np.ndarray, k: int) -> list[Reference]:
        """References for query rows (float64 shares): the mean mix of their peers, else the platform."""
        if len(self._ids) == 0:
            return [self.platform_reference() for _ in range(len(vectors))]
        neighbors = self._search(vectors, self_rows, k)
        found = neighbors >= 0
        peer_counts = found.sum(axis=1)
        means = np.zeros_like(vectors)
        step = max(1, _BLOCK_CELLS // (k * max(1, len(self.categories))))
        for start in range(0, len(vectors), step):
            block = slice(start, start + step)
            gathered = self._shares[neighbors[block].clip(min=0)]  # (rows, k, d)
            gathered *= found[block][:, :, None]
            means[block] = gathered.sum(axis=1) / np.maximum(peer_counts[block], 1)[:, None]

        references: list[Reference] = []
        categories = self.categories
        for mean, count in zip(means.tolist(), peer_counts.tolist(), strict=True):
            if count < self.min_peers:
                references.append(self.platform_reference())
            else:
                mix = {category: share for category, share in zip(categories, mean, strict=True) if share > 0}
                references.append(Reference(mix, "peers", count))
        return references


def _worker_count() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS))


def _sample(members: np.ndarray, pool: int, seed: int, stream: int) -> np.ndarray:
    """At most ``pool`` of ``members`` (sorted row numbers): a seeded uniform sample, kept sorted."""
    if len(members) <= pool:
        return members.astype(np.int64)
    rng = np.random.default_rng([seed, stream])
    return np.sort(rng.choice(members, size=pool, replace=False)).astype(np.int64)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def _top_categories(shares: np.ndarray, depth: int) -> np.ndarray:
    """Column indices of each row's ``depth`` biggest positive shares (ties: lower column), -1 padded."""
    order = np.argsort(-shares, axis=1, kind="stable")[:, :depth]
    positive = np.take_along_axis(shares, order, axis=1) > 0
    top = np.full((len(shares), depth), -1, dtype=np.int64)
    top[:, : order.shape[1]] = np.where(positive, order, -1)
    return top


def reference_mix(
    own: Mapping[str, float],
    peers: PeerIndex,
    *,
    k: int = DEFAULT_K,
    exclude: int | None = None,
) -> Reference:
    """Mean mix of the ``k`` streamers most similar to ``own`` (cosine on shares), else the platform's.

    ``exclude`` is the streamer's own id, so they are not their own peer. See `PeerIndex` for the
    approximation used.
    """
    return peers.reference(own, k=k, exclude=exclude)
