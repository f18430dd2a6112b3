"""Validation: one streaming pass that keeps the errors and the keys seen, and spills the good rows.

`validate_file` is plain CPU work (run it with `asyncio.to_thread`); memory stays bounded on any
file size because the parsed good rows go to a temporary file in pickled batches.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import IO, Any

from storage.importer.cells import Invalid, cell_text, norm
from storage.importer.limits import ImportLimits
from storage.importer.readers import file_rows, mapping_rows
from storage.importer.report import FileProblem, ImportFileError, ImportKind, Reason, RowError
from storage.importer.schemas import PRODUCT_AT, SCHEMAS, Schema, schema_for

__all__ = [
    "BATCH_SIZE",
    "IGNORED_NAMED",
    "MAX_ERRORS_KEPT",
    "ValidatedRows",
    "validate_file",
    "validate_rows",
]

BATCH_SIZE = 2000
MAX_ERRORS_KEPT = 1000  # a report lists these; the rest are only counted, so memory stays bounded
IGNORED_NAMED = 5  # unknown header columns named in the warning; the rest are counted
_SPILL_IN_MEMORY = 4 << 20  # bytes of parsed rows kept in memory before spilling to disk


class ValidatedRows:
    """The outcome of the validation pass: errors, counts, and the good rows spilled to disk.

    Use it as a context manager (or call `close`) so the spill file goes away.
    """

    def __init__(self, kind: ImportKind) -> None:
        self.kind: ImportKind = kind
        self.rows_total = 0
        self.rows_valid = 0
        self.errors: list[RowError] = []
        self.errors_total = 0
        self.ignored_columns: list[str] = []  # the first IGNORED_NAMED
        self.ignored_total = 0
        self.categories: set[str] = set()
        self.merchants: set[str] = set()
        # Small imports stay in memory; big ones roll over to a temporary file on disk.
        self._spill: IO[bytes] = tempfile.SpooledTemporaryFile(
            max_size=_SPILL_IN_MEMORY, prefix="xuanpin-import-"
        )
        self._pending: list[tuple[Any, ...]] = []
        self._batches = 0
        self.seconds = 0.0

    def __enter__(self) -> ValidatedRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._spill.close()

    @property
    def rows_invalid(self) -> int:
        return self.rows_total - self.rows_valid

    def add_error(self, error: RowError) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def keep(self, row: tuple[Any, ...]) -> None:
        self._pending.append(row)
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
            self._batches += 1
            self._pending = []

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The good rows, `(line, value, value, …)` in column order, a batch at a time."""
        self.flush()
        self._spill.seek(0)
        for _ in range(self._batches):
            yield pickle.load(self._spill)


def validate_file(
    kind: ImportKind, path: str | PathLike[str], limits: ImportLimits | None = None
) -> ValidatedRows:
    """Read and validate a CSV or XLSX file in one streaming pass (plain CPU work: use a thread).

    Raises `ImportFileError` when the file as a whole cannot be read or breaks one of `limits`.
    """
    limits = limits or ImportLimits()
    started = time.perf_counter()
    return _validate(kind, limits, file_rows(Path(path), limits), started)


def validate_rows(
    kind: ImportKind, rows: Iterable[Mapping[str, Any]], limits: ImportLimits | None = None
) -> ValidatedRows:
    """Validate in-memory rows (dicts keyed by column name); line numbers count from 2."""
    source = mapping_rows(rows, [c.name for c in SCHEMAS[kind].columns])
    return _validate(kind, limits or ImportLimits(), source, time.perf_counter())


def _validate(
    kind: ImportKind, limits: ImportLimits, source: Iterator[tuple[int, Sequence[Any]]], started: float
) -> ValidatedRows:
    out = ValidatedRows(kind)
    try:
        _validate_into(out, schema_for(kind, limits), source)
    except BaseException:
        out.close()
        raise
    out.flush()
    out.seconds = time.perf_counter() - started
    return out


def _blank(cells: Sequence[Any]) -> bool:
    for c in cells:
        if c is not None and (c.__class__ is not str or c.strip()):
            return False
    return True


def _header_name(raw: Any) -> str:
    return norm(raw).lower().replace(" ", "_")


def _validate_into(out: ValidatedRows, schema: Schema, source: Iterator[tuple[int, Sequence[Any]]]) -> None:
    header_line, header = 0, None
    for line, cells in source:
        if not _blank(cells):
            header_line, header = line, [_header_name(c) for c in cells]
            break
    if header is None:
        raise ImportFileError(FileProblem.EMPTY)

    positions: dict[str, int] = {}
    header_ok = True
    for index, name in enumerate(header):
        if not name:
            continue
        if name in positions:
            out.add_error(RowError(header_line, name, "", Reason.DUPLICATE_COLUMN))
            header_ok = False
        else:
            positions[name] = index
    known = {c.name for c in schema.columns}
    for column in schema.columns:
        if column.required and column.name not in positions:
            out.add_error(RowError(header_line, column.name, "", Reason.MISSING_COLUMN))
            header_ok = False
    unknown = [name for name in positions if name not in known]
    out.ignored_columns, out.ignored_total = unknown[:IGNORED_NAMED], len(unknown)
    if not header_ok:
        # Without the columns no row can be checked; count them so the report says what was skipped.
        out.rows_total = sum(1 for _, cells in source if not _blank(cells))
        return

    plan = [(c.name, positions.get(c.name, -1), c.parse) for c in schema.columns]
    key_positions = schema.key
    seen: dict[Hashable, int] = {}
    is_products = schema.kind == "products"
    for line, cells in source:
        if _blank(cells):
            continue
        out.rows_total += 1
        width = len(cells)
        values: list[Any] = [line]
        bad: list[int] = []
        for i, (name, index, parse) in enumerate(plan):
            raw = cells[index] if 0 <= index < width else None
            try:
                values.append(parse(raw))
            except Invalid as exc:
                values.append(None)
                bad.append(i)
                out.add_error(RowError(line, name, cell_text(raw).strip(), exc.reason, exc.params))
        # Register the key whenever it parsed, so a later duplicate is named even if this row is bad.
        if not any(p in bad for p in key_positions):
            key = tuple(values[p + 1] for p in key_positions)
            first = seen.get(key)
            if first is None:
                seen[key] = line
            else:
                raw = cells[positions[schema.duplicate_column]]
                shown = cell_text(raw).strip()
                out.add_error(
                    RowError(line, schema.duplicate_column, shown, schema.duplicate, {"first": first})
                )
                bad.append(-1)
        if bad:
            continue
        out.rows_valid += 1
        if is_products:
            out.categories.add(values[PRODUCT_AT["category"]])
            out.merchants.add(values[PRODUCT_AT["merchant"]])
        else:
            out.categories.add(values[3])
        out.keep(tuple(values))
