"""Writing validated rows: grade off the event loop, then a bulk upsert, all in one transaction.

`write_validated` streams the spilled rows back, skips the rows that are already stored as they
are, grades the rest (a worker thread, or worker processes for big files) while the previous batch
is written, and upserts with a bulk `INSERT … ON CONFLICT DO UPDATE` run through the driver's
executemany: a failure leaves nothing behind. A file with any bad row writes nothing unless
`skip_invalid=True`; `dry_run=True` validates, grades and counts what would change, and writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from os import PathLike
from typing import Any

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from core.grading import DIMENSIONS, INDICATORS
from core.policy import Policy, default_policy
from storage.importer.limits import ImportLimits
from storage.importer.report import ImportKind, ImportReport
from storage.importer.schemas import PRODUCT_AT, PRODUCT_DATA, SCHEMAS
from storage.importer.validation import ValidatedRows, validate_file, validate_rows
from storage.regrade import (
    GRADE_COLUMNS,
    GRADE_INPUT_COLUMNS,
    TIER_AT,
    BulkStatement,
    Grader,
    TierChangeInfo,
    custom_plans,
    history_row,
    moved_dimension,
    tier_change_statement,
)
from storage.sql import chunks
from storage.tables import Category, Merchant, Product, Streamer, StreamerSale

__all__ = [
    "import_file",
    "import_product_rows",
    "import_products",
    "import_streamer_rows",
    "import_streamers",
    "write_validated",
]

logger = logging.getLogger(__name__)

_IN_CHUNK = 1000  # keys per `IN (…)` query

PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]
MERCHANT: Table = Merchant.__table__  # type: ignore[attr-defined]
CATEGORY: Table = Category.__table__  # type: ignore[attr-defined]
STREAMER: Table = Streamer.__table__  # type: ignore[attr-defined]
STREAMER_SALE: Table = StreamerSale.__table__  # type: ignore[attr-defined]


def _report_from(validated: ValidatedRows, *, dry_run: bool) -> ImportReport:
    return ImportReport(
        kind=validated.kind,
        rows_total=validated.rows_total,
        rows_valid=validated.rows_valid,
        errors=list(validated.errors),
        ignored_columns=list(validated.ignored_columns),
        ignored_total=validated.ignored_total,
        errors_total=validated.errors_total,
        dry_run=dry_run,
    )


def _insert(conn: AsyncConnection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"imports support SQLite and PostgreSQL, not {name}")


async def _ids_by_name(
    conn: AsyncConnection, table: Table, column: str, names: Iterable[str]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    key = table.c[column]
    async with custom_plans(conn):
        for chunk in chunks(sorted(names), _IN_CHUNK):
            result = await conn.execute(select(key, table.c.id).where(key.in_(chunk)))
            ids.update({name: id_ for name, id_ in result})
    return ids


async def _ensure_names(
    conn: AsyncConnection, table: Table, column: str, names: set[str], extra: Callable[[str], dict[str, Any]]
) -> dict[str, int]:
    """Ids of the named rows (merchants by code, categories by name), creating the missing ones."""
    ids = await _ids_by_name(conn, table, column, names)
    missing = sorted(names - ids.keys())
    if missing:
        stmt = _insert(conn, table).on_conflict_do_nothing(index_elements=[column])
        await conn.execute(stmt, [{column: name, **extra(name)} for name in missing])
        ids.update(await _ids_by_name(conn, table, column, missing))
    return ids


_EXISTING_COLUMNS = ("id", "sku", *PRODUCT_DATA, *GRADE_COLUMNS)
_DATA_AT = 2  # where the data columns start in an existing row (after id and sku)
_OLD_GRADE_AT = _DATA_AT + len(PRODUCT_DATA)
_UPSERT_COLUMNS = ("sku", *PRODUCT_DATA, *GRADE_COLUMNS, "graded_at", "updated_at")
_NOT_UPSERTED = ("sku", "category_id", "merchant_id")
# Positions in a parsed product row.
_SKU, _TITLE = PRODUCT_AT["sku"], PRODUCT_AT["title"]
_CATEGORY, _MERCHANT = PRODUCT_AT["category"], PRODUCT_AT["merchant"]
_COPIED = tuple(
    PRODUCT_AT[c] for c in ("price", *INDICATORS, "factory_verified", "counterfeit_flag", "image_url", "tags")
)
_GRADE_INPUT = tuple(PRODUCT_AT[c] for c in GRADE_INPUT_COLUMNS)
_GATE_FLAGS = ("brand_authorized", "factory_verified", "counterfeit_flag")


def _gates(flags: Sequence[Any]) -> dict[str, bool]:
    brand_authorized, factory_verified, counterfeit = flags
    return {
        "counterfeit": not counterfeit,
        "factory_verified": bool(factory_verified),
        "brand_authorized": bool(brand_authorized),
    }


async def _existing_products(conn: AsyncConnection, skus: Sequence[str]) -> dict[str, Any]:
    cols = [PRODUCT.c[name] for name in _EXISTING_COLUMNS]
    found: dict[str, Any] = {}
    async with custom_plans(conn):
        for chunk in chunks(skus, _IN_CHUNK):
            result = await conn.execute(select(*cols).where(PRODUCT.c.sku.in_(chunk)))
            found.update({row.sku: row for row in result})
    return found


# One planned row: the parsed row, its stored data (ids resolved), and the stored product or None.
_Item = tuple[tuple[Any, ...], tuple[Any, ...], Any]


class _ProductWriter:
    """The write pass for products, one batch at a time, inside the caller's transaction."""

    def __init__(
        self,
        conn: AsyncConnection,
        report: ImportReport,
        *,
        policy: Policy,
        categories: dict[str, int],
        merchants: dict[str, int],
        dry_run: bool,
    ) -> None:
        self.conn = conn
        self.report = report
        self.policy = policy
        self.categories = categories
        self.merchants = merchants
        self.dry_run = dry_run
        self.now = datetime.now(UTC)
        ins = _insert(conn, PRODUCT)
        # The conflict branch leaves the two foreign keys alone: on SQLite, naming them there makes
        # every row (inserted or not) pay for foreign-key checks, more than doubling the insert time.
        # A product that moved to another merchant or category is relinked by `self.relink`.
        statement = ins.on_conflict_do_update(
            index_elements=[PRODUCT.c.sku],
            set_={name: ins.excluded[name] for name in _UPSERT_COLUMNS if name not in _NOT_UPSERTED},
        )
        self.upsert = BulkStatement(conn, statement, _UPSERT_COLUMNS)
        relink = (
            update(PRODUCT)
            .where(PRODUCT.c.id == bindparam("b_id"))
            .values(category_id=bindparam("b_category_id"), merchant_id=bindparam("b_merchant_id"))
        )
        self.relink = BulkStatement(conn, relink, ("b_category_id", "b_merchant_id", "b_id"))
        self.history = tier_change_statement(conn)
        self._gate_at = [_DATA_AT + PRODUCT_DATA.index(c) for c in _GATE_FLAGS]
        self._new_gate_at = [PRODUCT_AT[c] for c in _GATE_FLAGS]

    async def plan(self, batch: list[tuple[Any, ...]]) -> tuple[list[_Item], list[tuple[Any, ...]]]:
        """Compare a batch with what is stored: unchanged rows are done; the rest need a grade."""
        existing = await _existing_products(self.conn, [row[_SKU] for row in batch])
        categories, merchants, version = self.categories, self.merchants, self.policy.version
        items: list[_Item] = []
        for row in batch:
            data = (
                row[_TITLE],
                row[PRODUCT_AT["brand"]],
                categories.get(row[_CATEGORY]),
                merchants.get(row[_MERCHANT]),
                *(row[i] for i in _COPIED),
                row[PRODUCT_AT["listed_at"]],
            )
            old = existing.get(row[_SKU])
            # Same data graded by the same policy version gives the same grade: nothing to do.
            if (
                old is not None
                and old.policy_version == version
                and tuple(old[_DATA_AT:_OLD_GRADE_AT]) == data
            ):
                self.report.unchanged += 1
                continue
            items.append((row, data, old))
        return items, [tuple(row[i] for i in _GRADE_INPUT) for row, _, _ in items]

    async def write(self, items: list[_Item], grades: list[tuple[Any, ...]]) -> None:
        report, now, n_dims = self.report, self.now, len(DIMENSIONS)
        upserts: list[tuple[Any, ...]] = []
        first_grades: list[tuple[str, tuple[Any, ...]]] = []
        changes: list[tuple[Any, ...]] = []
        relinks: list[tuple[Any, ...]] = []
        for (row, data, old), new in zip(items, grades, strict=True):
            upserts.append((row[_SKU], *data, *new, now, now))
            if old is None:
                report.inserted += 1
                first_grades.append((row[_SKU], new))
                continue
            report.updated += 1
            if old.category_id != data[2] or old.merchant_id != data[3]:
                relinks.append((data[2], data[3], old.id))
            if old.tier == new[TIER_AT]:
                continue
            dim, delta = moved_dimension(
                old[_OLD_GRADE_AT : _OLD_GRADE_AT + n_dims],
                new[:n_dims],
                _gates([old[i] for i in self._gate_at]),
                _gates([row[i] for i in self._new_gate_at]),
            )
            changes.append(
                history_row(
                    old.id,
                    old_tier=old.tier,
                    new_tier=new[TIER_AT],
                    old_score=old.score,
                    new_score=new[n_dims],
                    moved=(dim, delta),
                    reason="import",
                    at=now,
                )
            )
            report.tier_changes.append(
                TierChangeInfo(
                    sku=row[_SKU],
                    product_id=old.id,
                    merchant_id=data[3],
                    title=row[_TITLE],
                    old_tier=old.tier,
                    new_tier=new[TIER_AT],
                    moved_dimension=dim,
                    moved_by=delta,
                    old_score=old.score,
                    new_score=new[n_dims],
                )
            )
        if self.dry_run:
            return
        await self.upsert.run(upserts)
        await self.relink.run(relinks)
        if first_grades:
            # The first grade of a new product is history too (old tier NULL); it needs the new ids.
            ids = await _ids_by_name(self.conn, PRODUCT, "sku", [sku for sku, _ in first_grades])
            changes.extend(
                history_row(
                    ids[sku],
                    old_tier=None,
                    new_tier=new[TIER_AT],
                    old_score=None,
                    new_score=new[n_dims],
                    moved=(None, None),
                    reason="import",
                    at=now,
                )
                for sku, new in first_grades
            )
        await self.history.run(changes)


async def _category_ids(conn: AsyncConnection, names: set[str], *, dry_run: bool) -> dict[str, int]:
    """Category ids by name; a dry run only looks them up, a real import adds the missing ones."""
    if dry_run:
        return await _ids_by_name(conn, CATEGORY, "name", names)
    return await _ensure_names(conn, CATEGORY, "name", names, lambda _: {})


async def _write_products(
    sessionmaker: async_sessionmaker[AsyncSession],
    validated: ValidatedRows,
    report: ImportReport,
    *,
    policy: Policy,
    dry_run: bool,
) -> None:
    now = datetime.now(UTC)
    # One transaction (the session begins it on first use); a dry run closes it without committing.
    async with sessionmaker() as session:
        conn = await session.connection()
        categories = await _category_ids(conn, validated.categories, dry_run=dry_run)
        if dry_run:
            merchants = await _ids_by_name(conn, MERCHANT, "code", validated.merchants)
        else:
            merchants = await _ensure_names(
                conn, MERCHANT, "code", validated.merchants, lambda code: {"name": code, "created_at": now}
            )
        writer = _ProductWriter(
            conn, report, policy=policy, categories=categories, merchants=merchants, dry_run=dry_run
        )
        # Batch N is graded (off the event loop) while batch N-1 is written.
        with Grader(policy, rows=validated.rows_valid) as grader:
            inflight: deque[tuple[list[_Item], asyncio.Future[list[tuple[Any, ...]]]]] = deque()
            for batch in validated.batches():
                items, inputs = await writer.plan(batch)
                inflight.append((items, grader.submit(inputs)))
                if len(inflight) > grader.depth:
                    items, future = inflight.popleft()
                    await writer.write(items, await future)
            while inflight:
                items, future = inflight.popleft()
                await writer.write(items, await future)
        if not dry_run:
            await session.commit()


async def _write_streamers(
    sessionmaker: async_sessionmaker[AsyncSession],
    validated: ValidatedRows,
    report: ImportReport,
    *,
    dry_run: bool,
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        conn = await session.connection()
        categories = await _category_ids(conn, validated.categories, dry_run=dry_run)
        ins = _insert(conn, STREAMER)
        upsert_streamer = BulkStatement(
            conn,
            ins.on_conflict_do_update(
                index_elements=[STREAMER.c.telegram_id],
                set_={"name": ins.excluded["name"], "updated_at": ins.excluded["updated_at"]},
            ),
            ("telegram_id", "name", "updated_at"),
        )
        ins = _insert(conn, STREAMER_SALE)
        upsert_sale = BulkStatement(
            conn,
            ins.on_conflict_do_update(
                index_elements=[STREAMER_SALE.c.telegram_id, STREAMER_SALE.c.category_id],
                set_={"gmv_30d": ins.excluded["gmv_30d"]},
            ),
            ("telegram_id", "category_id", "gmv_30d"),
        )
        sale = STREAMER_SALE.c
        for batch in validated.batches():
            existing: dict[tuple[int, int], float] = {}
            wanted = [(row[1], categories[row[3]]) for row in batch if row[3] in categories]
            async with custom_plans(conn):
                for chunk in chunks(wanted, _IN_CHUNK):
                    result = await conn.execute(
                        select(sale.telegram_id, sale.category_id, sale.gmv_30d).where(
                            tuple_(sale.telegram_id, sale.category_id).in_(chunk)
                        )
                    )
                    existing.update({(t, c): g for t, c, g in result})
            sales: list[tuple[Any, ...]] = []
            for _line, telegram_id, _name, category, gmv in batch:
                category_id = categories.get(category)
                old = existing.get((telegram_id, category_id)) if category_id is not None else None
                if old is None:
                    report.inserted += 1
                elif old == gmv:
                    report.unchanged += 1
                    continue
                else:
                    report.updated += 1
                sales.append((telegram_id, category_id, gmv))
            if dry_run:
                continue
            # One row per streamer per statement (PostgreSQL refuses to update a row twice in one).
            names = {row[1]: row[2] for row in batch}
            await upsert_streamer.run([(t, name, now) for t, name in names.items()])
            await upsert_sale.run(sales)
        if not dry_run:
            await session.commit()


async def write_validated(
    sessionmaker: async_sessionmaker[AsyncSession],
    validated: ValidatedRows,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    policy: Policy | None = None,
) -> ImportReport:
    """The second pass: grade and upsert the validated rows in one transaction (or count them, dry run).

    Writes nothing when there are errors, unless `skip_invalid`. Does not close `validated`.
    """
    started = _time.perf_counter()
    report = _report_from(validated, dry_run=dry_run)
    blocked = validated.errors_total > 0 and not skip_invalid
    if validated.rows_valid and not (blocked and not dry_run):
        if validated.kind == "products":
            await _write_products(
                sessionmaker, validated, report, policy=policy or default_policy(), dry_run=dry_run
            )
        else:
            await _write_streamers(sessionmaker, validated, report, dry_run=dry_run)
    report.written = not dry_run and not blocked
    report.blocked = blocked
    report.seconds = validated.seconds + _time.perf_counter() - started
    logger.info(
        "%s import%s: %d rows, %d bad, %d new, %d updated, %d unchanged, %d tier changes, written=%s, %.1f s",
        report.kind,
        " (dry run)" if dry_run else "",
        report.rows_total,
        report.rows_invalid,
        report.inserted,
        report.updated,
        report.unchanged,
        len(report.tier_changes),
        report.written,
        report.seconds,
    )
    return report


async def import_file(
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: ImportKind,
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    policy: Policy | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Validate a CSV/XLSX file (in a worker thread, within `limits`) and write it.

    Raises `ImportFileError`.
    """
    if kind not in SCHEMAS:
        raise ValueError(f"unknown import kind {kind!r}: use 'products' or 'streamers'")
    # The parse is CPU work: a thread keeps the event loop answering, and the limits keep it short.
    validated = await asyncio.to_thread(validate_file, kind, path, limits)
    with validated:
        return await write_validated(
            sessionmaker, validated, dry_run=dry_run, skip_invalid=skip_invalid, policy=policy
        )


async def import_products(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    policy: Policy | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import a products file: upsert by sku, grade every row, keep tier history."""
    return await import_file(
        sessionmaker,
        "products",
        path,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        policy=policy,
        limits=limits,
    )


async def import_streamers(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import streamer sales: one row per streamer and category, upserted."""
    return await import_file(
        sessionmaker, "streamers", path, dry_run=dry_run, skip_invalid=skip_invalid, limits=limits
    )


async def import_product_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Iterable[Mapping[str, Any]],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    policy: Policy | None = None,
) -> ImportReport:
    """Import products from in-memory rows (the demo seeder); same checks, lines count from 2."""
    with validate_rows("products", rows) as validated:
        return await write_validated(
            sessionmaker, validated, dry_run=dry_run, skip_invalid=skip_invalid, policy=policy
        )


async def import_streamer_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Iterable[Mapping[str, Any]],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> ImportReport:
    """Import streamer sales from in-memory rows; same checks, lines count from 2."""
    with validate_rows("streamers", rows) as validated:
        return await write_validated(sessionmaker, validated, dry_run=dry_run, skip_invalid=skip_invalid)
