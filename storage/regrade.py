"""Regrading: stored products graded again from their indicators, each tier move written to the history.

`regrade_all` walks the catalog in id order, grades each batch off the event loop, writes back
only the grades that changed with one bulk UPDATE per batch, and records a `TierChange` for every
tier that moved. One transaction.

Also the two pieces the importer shares: `Grader` (grading batches in a worker thread, or in
worker processes when a job is big enough to pay for them) and `BulkStatement` (a statement
compiled once and run through the driver's executemany).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Float, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel import select as select_model
from sqlmodel.ext.asyncio.session import AsyncSession

from core.grading import DIMENSIONS, INDICATORS, Grade, Indicators, grade
from core.policy import Policy, default_policy
from storage.catalog import indicators_of
from storage.tables import Product, TierChange
from storage.tier_changes import TierChangeInfo

__all__ = [
    "BATCH_SIZE",
    "GRADE_COLUMNS",
    "BulkStatement",
    "custom_plans",
    "Grader",
    "RegradeReport",
    "TierChangeInfo",  # defined in storage.tier_changes; the importer still takes it from here
    "grade_of",
    "grade_values",
    "history_row",
    "moved_dimension",
    "normalise_sku",
    "regrade_all",
    "split_tags",
    "tier_change_statement",
]

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
# Below this many products a job grades in one worker thread; above it, in worker processes
# (grading is pure Python: threads share one core, processes use them all).
PROCESS_MIN_ROWS = 20_000
PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]
TIER_CHANGE: Table = TierChange.__table__  # type: ignore[attr-defined]
# The stored grade, in the order `grade_values` returns it.
GRADE_COLUMNS: tuple[str, ...] = (
    *(f"dim_{d}" for d in DIMENSIONS),
    "score",
    "tier",
    "badges",
    "policy_version",
)
TIER_AT = len(DIMENSIONS) + 1  # the tier's position in a grade tuple (the score is just before it)
# What `Grader` grades: the 11 indicators, the two gate flags, then the ';'-separated tags.
GRADE_INPUT_COLUMNS: tuple[str, ...] = (*INDICATORS, "factory_verified", "counterfeit_flag", "tags")
TIER_CHANGE_COLUMNS: tuple[str, ...] = (
    "product_id",
    "old_tier",
    "new_tier",
    "old_score",
    "new_score",
    "moved_dimension",
    "moved_by",
    "reason",
    "changed_at",
    "alerted_at",
)
_EPS = 1e-9


@dataclass
class RegradeReport:
    policy_version: str
    products: int = 0  # products graded
    regraded: int = 0  # products whose stored grade changed
    tier_changes: list[TierChangeInfo] = field(default_factory=list)
    seconds: float = 0.0


def split_tags(tags: str | None) -> tuple[str, ...]:
    """Stored tags are ';'-separated; imports also accepted the full-width '；'."""
    if not tags:
        return ()
    return tuple(t for t in (p.strip() for p in tags.replace("；", ";").split(";")) if t)


def normalise_sku(sku: str) -> str:
    """A sku as the importer stores it: stripped, full-width characters folded (NFKC)."""
    sku = sku.strip()
    return sku if sku.isascii() else unicodedata.normalize("NFKC", sku).strip()


# `Indicators` takes the 11 indicators positionally in `INDICATORS` order (the fast way in a loop).
_indicators = cast(Callable[..., Indicators], Indicators)


def grade_values(g: Grade) -> tuple[Any, ...]:
    """A grade as the values of `GRADE_COLUMNS`."""
    dims = g.dimensions
    return (*(dims[d] for d in DIMENSIONS), g.score, g.tier, ";".join(g.badges), g.policy_version)


def grade_inputs(rows: Iterable[Sequence[Any]], policy: Policy) -> list[tuple[Any, ...]]:
    """Grade rows laid out as `GRADE_INPUT_COLUMNS`; each result is laid out as `GRADE_COLUMNS`."""
    n = len(INDICATORS)
    out = []
    for row in rows:
        ind = _indicators(*row[:n], factory_verified=bool(row[n]), counterfeit=bool(row[n + 1]))
        out.append(grade_values(grade(ind, policy, split_tags(row[n + 2]), levers=False)))
    return out


_worker_policy: Policy | None = None


def _init_worker(policy: Policy) -> None:
    global _worker_policy
    _worker_policy = policy


def _grade_in_worker(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    assert _worker_policy is not None
    return grade_inputs(rows, _worker_policy)


class Grader:
    """Grades batches off the event loop and hands back tasks, so writing and grading overlap.

    Small jobs use one worker thread. Jobs of `PROCESS_MIN_ROWS` or more use worker processes,
    one per core up to four, because grading is pure Python and threads would share one core.
    They are spawned, not forked (the parent runs threads), so like any multiprocessing user the
    program's main module must guard its entry point with `if __name__ == "__main__"` (ours do).
    If the pool breaks, grading carries on in a thread. `depth` is how many batches to keep in
    flight. Use it as a context manager: leaving it cancels what is still running.
    """

    def __init__(self, policy: Policy, *, rows: int = 0, processes: int | None = None) -> None:
        self.policy = policy
        if processes is None:
            cores = os.cpu_count() or 1
            processes = min(cores, 4) if rows >= PROCESS_MIN_ROWS and cores > 1 else 0
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None  # started on the first batch to grade
        self._tasks: set[asyncio.Task[list[tuple[Any, ...]]]] = set()

    @property
    def depth(self) -> int:
        return max(1, self.processes)

    def submit(self, rows: list[tuple[Any, ...]]) -> asyncio.Task[list[tuple[Any, ...]]]:
        """Start grading rows laid out as `GRADE_INPUT_COLUMNS`."""
        task = asyncio.ensure_future(self._grade(rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _grade(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not rows:
            return []
        if self.processes and self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.policy,),
            )
        if self._pool is not None:
            try:
                return await asyncio.get_running_loop().run_in_executor(self._pool, _grade_in_worker, rows)
            except BrokenProcessPool as exc:
                logger.warning("grading processes failed (%s); grading in a thread instead", exc)
                self._shutdown()
                self.processes = 0
        return await asyncio.to_thread(grade_inputs, rows, self.policy)

    def _shutdown(self, *, wait: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        running = [task for task in self._tasks if not task.done()]
        for task in running:
            task.cancel()
        # Idle workers exit at once: wait for them unless a batch was abandoned mid-way.
        self._shutdown(wait=not running)

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_value_cache(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A bind processor that reuses its last answer: a batch's timestamps are one and the same object."""
    last_in: list[Any] = [object()]
    last_out: list[Any] = [None]

    def process(value: Any) -> Any:
        if value is not last_in[0]:
            last_out[0] = proc(value)
            last_in[0] = value
        return last_out[0]

    return process


class BulkStatement:
    """A statement compiled once and run through the driver's own executemany.

    SQLAlchemy's executemany builds and type-processes every parameter of every row in Python
    (about 25 µs for a product row), which was most of a 100,000-row import. Rows here are
    tuples in `names` order whose values already have the column's Python type; only the bind
    processors the dialect has (dates and datetimes on SQLite, the UTC check) still run.
    For an INSERT, `names` are column keys; otherwise the statement's `bindparam` names.
    """

    def __init__(self, conn: AsyncConnection, statement: Any, names: Sequence[str]) -> None:
        dialect = conn.dialect
        is_insert = getattr(statement, "is_insert", False)
        compiled = statement.compile(
            dialect=dialect, column_keys=list(names) if is_insert else None, for_executemany=True
        )
        order = list(compiled.positiontup or ())
        if sorted(order) != sorted(names):
            raise ValueError(f"statement binds {order}, rows give {list(names)}")
        self.sql = compiled.string
        self._conn = conn
        position = {name: i for i, name in enumerate(names)}
        self._get = itemgetter(*(position[name] for name in order))
        self._single = len(order) == 1
        self._processors = []
        for i, name in enumerate(order):
            type_ = compiled.binds[name].type
            proc = type_._cached_bind_processor(dialect)
            # Float columns get floats already (SQLite's processor would only call float()).
            if proc is not None and not isinstance(type_, Float):
                self._processors.append((i, _last_value_cache(proc)))

    def _params(self, rows: Iterable[Sequence[Any]]) -> list[Any]:
        get, processors, single = self._get, self._processors, self._single
        out: list[Any] = []
        for row in rows:
            values: Any = get(row)
            if single:
                values = (values,)
            if processors:
                mutable = list(values)
                for i, proc in processors:
                    mutable[i] = proc(mutable[i])
                values = tuple(mutable)
            out.append(values)
        return out

    async def run(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.exec_driver_sql(self.sql, self._params(rows))


def history_row(
    product_id: int,
    *,
    old_tier: str | None,
    new_tier: str,
    old_score: float | None,
    new_score: float,
    moved: tuple[str | None, float | None],
    reason: str,
    at: datetime,
) -> tuple[Any, ...]:
    """One TierChange row laid out as `TIER_CHANGE_COLUMNS` (not yet told to the merchant)."""
    return (product_id, old_tier, new_tier, old_score, new_score, moved[0], moved[1], reason, at, None)


def tier_change_statement(conn: AsyncConnection) -> BulkStatement:
    """Bulk insert of TierChange rows laid out as `TIER_CHANGE_COLUMNS`."""
    return BulkStatement(conn, insert(TIER_CHANGE), TIER_CHANGE_COLUMNS)


@asynccontextmanager
async def custom_plans(conn: AsyncConnection) -> AsyncIterator[None]:
    """On PostgreSQL, plan the block's statements for their actual parameters (lookups only).

    asyncpg prepares and caches every statement on its connection, and after five runs
    PostgreSQL may switch a prepared statement to a generic plan. A lookup by sku that gets its
    generic plan while an import is still filling the table (a sequential scan is cheapest then)
    keeps it as the table grows, in this import and the next: 100,000 rows meant minutes. Not
    for the bulk writes: re-planning every row of an executemany would cost more than it saves.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    yield
    # Not in a `finally`: after an error the transaction is aborted and rolls the setting back.
    await conn.exec_driver_sql("SET LOCAL plan_cache_mode TO DEFAULT")


def moved_dimension(
    old_dims: Sequence[float],
    new_dims: Sequence[float],
    old_gates: Mapping[str, bool] | None = None,
    new_gates: Mapping[str, bool] | None = None,
) -> tuple[str | None, float | None]:
    """Why a tier moved: the dimension whose score moved most (signed), or the gate that flipped.

    A counterfeit flag forces L0 whatever the scores say, so when it flipped it is the reason.
    Otherwise the largest dimension move wins (ties go to the first in `DIMENSIONS`); when no
    dimension moved, a flipped factory check (the L5 gate) is the reason, else nothing is
    (the policy's thresholds moved).
    """
    if old_gates and new_gates and old_gates.get("counterfeit") != new_gates.get("counterfeit"):
        return "counterfeit", None
    best, best_delta = None, 0.0
    for name, old, new in zip(DIMENSIONS, old_dims, new_dims, strict=True):
        delta = float(new) - float(old)
        if abs(delta) > abs(best_delta) + _EPS:
            best, best_delta = name, delta
    if best is not None:
        return best, round(best_delta, 2)
    if old_gates and new_gates and old_gates.get("factory_verified") != new_gates.get("factory_verified"):
        return "factory_verified", None
    return None, None


_SELECT_FOR_REGRADE = (
    PRODUCT.c.id,
    PRODUCT.c.sku,
    PRODUCT.c.title,
    PRODUCT.c.merchant_id,
    *(PRODUCT.c[name] for name in GRADE_INPUT_COLUMNS),
    *(PRODUCT.c[name] for name in GRADE_COLUMNS),
)
_INPUT_AT = 4  # where the grade inputs start in a selected row
_GRADE_AT = _INPUT_AT + len(GRADE_INPUT_COLUMNS)  # where the stored grade starts
_UPDATE_NAMES = ("id", *GRADE_COLUMNS, "graded_at")


def _update_grade_statement() -> Any:
    values: dict[str, Any] = {name: bindparam(f"b_{name}") for name in _UPDATE_NAMES[1:]}
    return update(PRODUCT).where(PRODUCT.c.id == bindparam("b_id")).values(values)


async def regrade_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    policy: Policy | None = None,
    reason: str = "regrade",
    batch_size: int = BATCH_SIZE,
) -> RegradeReport:
    """Regrade every product from its stored indicators; record a TierChange for each tier that moved."""
    policy = policy or default_policy()
    started = time.perf_counter()
    report = RegradeReport(policy_version=policy.version)
    now = datetime.now(UTC)
    n_dims = len(DIMENSIONS)
    async with sessionmaker() as session:
        conn = await session.connection()
        total = (await conn.execute(select(func.count()).select_from(PRODUCT))).scalar_one()
        updater = BulkStatement(conn, _update_grade_statement(), [f"b_{n}" for n in _UPDATE_NAMES])
        history = tier_change_statement(conn)

        async def write(rows: Sequence[Any], graded: list[tuple[Any, ...]]) -> None:
            updates: list[tuple[Any, ...]] = []
            changes: list[tuple[Any, ...]] = []
            for row, new in zip(rows, graded, strict=True):
                old = tuple(row[_GRADE_AT:])
                if old == new:
                    continue
                updates.append((row.id, *new, now))
                if row.tier == new[TIER_AT]:
                    continue
                dim, delta = moved_dimension(old[:n_dims], new[:n_dims])
                changes.append(
                    history_row(
                        row.id,
                        old_tier=row.tier,
                        new_tier=new[TIER_AT],
                        old_score=row.score,
                        new_score=new[n_dims],
                        moved=(dim, delta),
                        reason=reason,
                        at=now,
                    )
                )
                report.tier_changes.append(
                    TierChangeInfo(
                        sku=row.sku,
                        product_id=row.id,
                        merchant_id=row.merchant_id,
                        title=row.title,
                        old_tier=row.tier,
                        new_tier=new[TIER_AT],
                        moved_dimension=dim,
                        moved_by=delta,
                        old_score=row.score,
                        new_score=new[n_dims],
                    )
                )
            await updater.run(updates)
            await history.run(changes)
            report.regraded += len(updates)

        with Grader(policy, rows=total) as grader:
            inflight: deque[tuple[Sequence[Any], asyncio.Future[list[tuple[Any, ...]]]]] = deque()
            last_id = 0
            while True:
                query = (
                    select(*_SELECT_FOR_REGRADE)
                    .where(PRODUCT.c.id > last_id)
                    .order_by(PRODUCT.c.id)
                    .limit(batch_size)
                )
                async with custom_plans(conn):
                    rows = (await conn.execute(query)).all()
                if not rows:
                    break
                last_id = rows[-1].id
                report.products += len(rows)
                inflight.append((rows, grader.submit([tuple(r[_INPUT_AT:_GRADE_AT]) for r in rows])))
                if len(inflight) > grader.depth:
                    done, future = inflight.popleft()
                    await write(done, await future)
            while inflight:
                done, future = inflight.popleft()
                await write(done, await future)
        await session.commit()
    report.seconds = time.perf_counter() - started
    return report


async def grade_of(
    sku: str, *, policy: Policy | None = None, session: AsyncSession
) -> tuple[Product, Grade] | None:
    """Load one product by sku and grade it from its stored indicators (for /grade and the CLI)."""
    product = (await session.exec(select_model(Product).where(Product.sku == normalise_sku(sku)))).first()
    if product is None:
        return None
    return product, grade(indicators_of(product), policy or default_policy(), split_tags(product.tags))
