"""Catalog and streamer-sales imports: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX.

Memory stays bounded on any file size. `validate_file` (a plain function: run it with
`asyncio.to_thread`) streams the rows once, keeps only the errors and the keys seen, and spills
the parsed good rows to a temporary file in pickled batches. `write_validated` streams them back,
skips the rows that are already stored as they are, grades the rest off the event loop (a worker
thread, or worker processes for big files) while the previous batch is written, and upserts with
a bulk `INSERT … ON CONFLICT DO UPDATE` run through the driver's executemany, all in one
transaction: a failure leaves nothing behind.

A file with any bad row writes nothing unless `skip_invalid=True`; `dry_run=True` validates,
grades and counts what would change, and writes nothing.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import logging
import math
import pickle
import re
import tempfile
import time as _time
import unicodedata
import warnings
import zipfile
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from os import PathLike
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import t
from core.grading import DIMENSIONS, INDICATORS
from core.policy import Policy, default_policy
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
from storage.tables import Category, Merchant, Product, Streamer, StreamerSale

__all__ = [
    "BATCH_SIZE",
    "ImportFileError",
    "ImportKind",
    "ImportReport",
    "RowError",
    "TierChangeInfo",
    "ValidatedRows",
    "import_file",
    "import_product_rows",
    "import_products",
    "import_streamer_rows",
    "import_streamers",
    "validate_file",
    "validate_rows",
    "write_validated",
]

logger = logging.getLogger(__name__)

ImportKind = Literal["products", "streamers"]
BATCH_SIZE = 2000
MAX_ERRORS_KEPT = 10_000  # a garbage file must not fill memory with errors; the rest are counted
_IN_CHUNK = 1000  # keys per `IN (…)` query
_SHOWN_VALUE_MAX = 60
_SPILL_IN_MEMORY = 4 << 20  # bytes of parsed rows kept in memory before spilling to disk

PRODUCT: Table = Product.__table__  # type: ignore[attr-defined]
MERCHANT: Table = Merchant.__table__  # type: ignore[attr-defined]
CATEGORY: Table = Category.__table__  # type: ignore[attr-defined]
STREAMER: Table = Streamer.__table__  # type: ignore[attr-defined]
STREAMER_SALE: Table = StreamerSale.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Messages (English and Chinese side by side; RowError.describe picks one).


@dataclass(frozen=True, slots=True)
class _Msg:
    en: str
    zh: str


_REQUIRED = _Msg("is required", "不能为空")
_TOO_LONG = _Msg("must be at most {n} characters", "不能超过 {n} 个字符")
_POSITIVE = _Msg("must be a number greater than 0", "必须是大于 0 的数字")
_NON_NEGATIVE = _Msg("must be a number, 0 or more", "必须是不小于 0 的数字")
_RANGE = _Msg("must be a number from {lo} to {hi}", "必须是 {lo} 到 {hi} 之间的数字")
_RATE = _Msg("must be from 0 to 1, or a percentage such as 25%", "必须是 0 到 1 之间的小数, 或百分数如 25%")
_FLAG = _Msg("must be 0 or 1 (true/false and 是/否 also work)", "必须是 0 或 1 (也可写 true/false、是/否)")
_COUNT = _Msg("must be a whole number, 0 or more", "必须是不小于 0 的整数")
_TOO_BIG = _Msg("is too large (at most {n})", "数值过大 (最大 {n})")
_TELEGRAM_ID = _Msg("must be a positive whole number (a Telegram user id)", "必须是正整数 (Telegram 用户 id)")
_URL = _Msg("must be an http:// or https:// link", "必须是 http:// 或 https:// 开头的链接")
_DATE = _Msg(
    "must be a date written as YYYY-MM-DD, e.g. 2026-11-24", "必须是 YYYY-MM-DD 格式的日期, 如 2026-11-24"
)
_DUP_SKU = _Msg("duplicate sku: already on line {first}", "sku 重复: 第 {first} 行已有")
_DUP_SALE = _Msg(
    "duplicate telegram_id and category: already on line {first}", "主播与类目重复: 第 {first} 行已有"
)
_MISSING_COLUMN = _Msg("required column is missing from the header", "表头缺少这一必填列")
_DUP_COLUMN = _Msg("column appears more than once in the header", "表头中这一列出现了不止一次")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, no header)."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    def describe(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell: `line` is the row number a spreadsheet shows (the header is line 1)."""

    line: int
    column: str
    value: str
    reason: str  # English
    reason_zh: str = field(default="", compare=False, repr=False)

    def describe(self, lang: str = "zh") -> str:
        shown = self.value if len(self.value) <= _SHOWN_VALUE_MAX else self.value[:_SHOWN_VALUE_MAX] + "…"
        if lang == "en":
            got = f' (got "{shown}")' if self.value else ""
            return f"line {self.line}, column {self.column}: {self.reason}{got}"
        got = f' (得到 "{shown}")' if self.value else ""
        return f"第 {self.line} 行 {self.column} 列: {self.reason_zh or self.reason}{got}"


def _row_error(line: int, column: str, value: str, msg: _Msg, **params: Any) -> RowError:
    return RowError(line, column, value, msg.en.format(**params), msg.zh.format(**params))


class _Invalid(Exception):
    def __init__(self, msg: _Msg, **params: Any) -> None:
        self.msg = msg
        self.params = params


# ---------------------------------------------------------------------------------------------
# Cell parsers: raw cell (str from CSV; str/int/float/bool/datetime from XLSX or Python) -> value.


def _cell_text(raw: Any) -> str:
    """What the user sees in the cell, as text."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return str(int(raw)) if raw.is_integer() else repr(raw)
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def _norm(raw: Any) -> str:
    """Stripped text with full-width digits, letters and punctuation folded (NFKC)."""
    s = (raw if raw.__class__ is str else _cell_text(raw)).strip()
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s).strip()
    return s


_SPACE = re.compile(r"\s")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_DATE_RE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]0{1,2}:00(?::00)?)?")
_INT4_MAX = 2_147_483_647
_INT8_MAX = 9_223_372_036_854_775_807


def _number(raw: Any, msg: _Msg, **params: Any) -> float:
    cls = raw.__class__
    if cls is float or cls is int or cls is Decimal:
        value = float(raw)
    else:
        s = _norm(raw)
        if not s:
            raise _Invalid(_REQUIRED)
        try:
            value = float(s)
        except ValueError:
            if "," in s and _THOUSANDS.fullmatch(s):
                value = float(s.replace(",", ""))
            else:
                raise _Invalid(msg, **params) from None
        if "_" in s:
            raise _Invalid(msg, **params)
    if not math.isfinite(value):
        raise _Invalid(msg, **params)
    return value


def _positive(raw: Any) -> float:
    value = _number(raw, _POSITIVE)
    if value <= 0:
        raise _Invalid(_POSITIVE)
    return value


def _non_negative(raw: Any) -> float:
    value = _number(raw, _NON_NEGATIVE)
    if value < 0:
        raise _Invalid(_NON_NEGATIVE)
    return value


def _between(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        value = _number(raw, _RANGE, lo=lo, hi=hi)
        if not lo <= value <= hi:
            raise _Invalid(_RANGE, lo=lo, hi=hi)
        return value

    return parse


def _rate(raw: Any) -> float:
    """0–1, or a percentage: "25%" -> 0.25."""
    if raw.__class__ is str or raw is None:
        s = _norm(raw)
        if s.endswith("%"):
            value = _number(s[:-1], _RATE) / 100
        else:
            value = _number(s, _RATE)
    else:
        value = _number(raw, _RATE)
    if not 0 <= value <= 1:
        raise _Invalid(_RATE)
    return value


def _count(raw: Any) -> int:
    value = _number(raw, _COUNT)
    if value < 0 or not value.is_integer():
        raise _Invalid(_COUNT)
    if value > _INT4_MAX:
        raise _Invalid(_TOO_BIG, n=_INT4_MAX)
    return int(value)


_FLAGS = {
    "1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "t": 1, "f": 0,
    "是": 1, "否": 0, "1.0": 1, "0.0": 0,
}  # fmt: skip


def _flag(raw: Any) -> int:
    if raw.__class__ is bool:
        return int(raw)
    s = _norm(raw)
    if not s:
        raise _Invalid(_REQUIRED)
    value = _FLAGS.get(s.lower())
    if value is None:
        raise _Invalid(_FLAG)
    return value


def _telegram_id(raw: Any) -> int:
    if raw.__class__ is int:
        value = raw
    elif raw.__class__ is float:
        if not raw.is_integer():
            raise _Invalid(_TELEGRAM_ID)
        value = int(raw)
    else:
        s = _norm(raw)
        if not s:
            raise _Invalid(_REQUIRED)
        if s.isdigit():
            value = int(s)
        else:
            number = _number(s, _TELEGRAM_ID)
            if not number.is_integer():
                raise _Invalid(_TELEGRAM_ID)
            value = int(number)
    if value <= 0:
        raise _Invalid(_TELEGRAM_ID)
    if value > _INT8_MAX:
        raise _Invalid(_TOO_BIG, n=_INT8_MAX)
    return value


def _text(max_len: int, *, fold: bool = False) -> Callable[[Any], str]:
    """Required text; `fold` applies NFKC (keys and names users type: sku, merchant, category)."""

    def parse(raw: Any) -> str:
        s = _norm(raw) if fold else _cell_text(raw).strip()
        if not s:
            raise _Invalid(_REQUIRED)
        if len(s) > max_len:
            raise _Invalid(_TOO_LONG, n=max_len)
        return s

    return parse


def _url(raw: Any) -> str | None:
    s = _cell_text(raw).strip()
    if not s:
        return None
    if len(s) > 500:
        raise _Invalid(_TOO_LONG, n=500)
    try:
        parts = urlsplit(s)
    except ValueError:
        raise _Invalid(_URL) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or _SPACE.search(s):
        raise _Invalid(_URL)
    return s


def _tags(raw: Any) -> str:
    s = _norm(raw)  # NFKC turns the full-width '；' into ';'
    if not s:
        return ""
    tags: list[str] = []
    for part in s.replace("；", ";").split(";"):
        tag = part.strip()
        if tag and tag not in tags:
            tags.append(tag)
    joined = ";".join(tags)
    if len(joined) > 200:
        raise _Invalid(_TOO_LONG, n=200)
    return joined


def _date(raw: Any) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if raw is not None and raw.__class__ is not str:
        raise _Invalid(_DATE)  # e.g. an Excel serial number in a cell not formatted as a date
    s = _norm(raw)
    if not s:
        return None
    m = _DATE_RE.fullmatch(s)
    if not m:
        raise _Invalid(_DATE)
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise _Invalid(_DATE) from None


# ---------------------------------------------------------------------------------------------
# Schemas.


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True


@dataclass(frozen=True, slots=True)
class _Schema:
    kind: ImportKind
    columns: tuple[_Column, ...]
    key: tuple[int, ...]  # positions (in `columns`) of the key that must be unique within a file
    duplicate: _Msg
    duplicate_column: str


_PRODUCT_COLUMNS = (
    _Column("sku", _text(64, fold=True)),
    _Column("title", _text(300)),
    _Column("brand", _text(100)),
    _Column("category", _text(64, fold=True)),
    _Column("merchant", _text(64, fold=True)),
    _Column("price", _positive),
    _Column("brand_authorized", _flag),
    _Column("brand_awareness", _between(0, 100)),
    _Column("price_index", _positive),
    _Column("lowest_price_ratio", _positive),
    _Column("commission_rate", _rate),
    _Column("active_streamers_30d", _count),
    _Column("shop_rating", _between(0, 5)),
    _Column("refund_rate", _rate),
    _Column("dispute_rate", _rate),
    _Column("gmv_30d", _non_negative),
    _Column("conversion_rate", _rate),
    _Column("factory_verified", _flag),
    _Column("counterfeit_flag", _flag),
    _Column("image_url", _url, required=False),
    _Column("tags", _tags, required=False),
    _Column("listed_at", _date, required=False),
)
PRODUCTS = _Schema("products", _PRODUCT_COLUMNS, (0,), _DUP_SKU, "sku")
STREAMERS = _Schema(
    "streamers",
    (
        _Column("telegram_id", _telegram_id),
        _Column("name", _text(200)),
        _Column("category", _text(64, fold=True)),
        _Column("gmv_30d", _non_negative),
    ),
    (0, 2),
    _DUP_SALE,
    "category",
)
SCHEMAS: dict[str, _Schema] = {"products": PRODUCTS, "streamers": STREAMERS}
# Positions in a parsed product row (after the leading line number).
_P = {c.name: i + 1 for i, c in enumerate(_PRODUCT_COLUMNS)}
# The stored product columns an import sets, in order, besides sku and the grade.
_PRODUCT_DATA = (
    "title",
    "brand",
    "category_id",
    "merchant_id",
    "price",
    *INDICATORS,
    "factory_verified",
    "counterfeit_flag",
    "image_url",
    "tags",
    "listed_at",
)


# ---------------------------------------------------------------------------------------------
# Reading files: (line, cells) pairs, streamed.


def _detect_encoding(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise ImportFileError(
                "The file is UTF-16 text; save it as CSV UTF-8 (or GB18030) or as XLSX.",
                "文件是 UTF-16 编码; 请另存为 CSV UTF-8 (或 GB18030) 或 XLSX。",
            )
        for encoding in ("utf-8", "gb18030"):
            fh.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            try:
                while chunk := fh.read(1 << 20):
                    if b"\x00" in chunk:
                        raise ImportFileError(
                            "The file is not text (it holds NUL bytes): upload a CSV or an XLSX file.",
                            "文件不是文本 (含有 NUL 字节): 请上传 CSV 或 XLSX 文件。",
                        )
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    raise ImportFileError(
        "The file is neither UTF-8 nor GB18030 text: save it as CSV UTF-8 or as XLSX.",
        "文件既不是 UTF-8 也不是 GB18030 编码: 请另存为 CSV UTF-8 或 XLSX。",
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    encoding = _detect_encoding(path)
    with open(path, encoding=encoding, newline="") as fh:
        first = fh.readline()
        # Excel's "Unicode text" export is tab-separated; everything else here is comma-separated.
        delimiter = "\t" if "\t" in first and "," not in first else ","
        reader = csv.reader(_chain_first(first, fh), delimiter=delimiter)
        line = 0
        try:
            for cells in reader:
                line += 1  # records, not physical lines: a quoted newline stays in one spreadsheet row
                yield line, cells
        except csv.Error as exc:
            raise ImportFileError(
                f"Line {line + 1} cannot be read as CSV: {exc}", f"第 {line + 1} 行无法按 CSV 读取: {exc}"
            ) from exc


def _chain_first(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _xlsx_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # Files from WPS or Numbers often lack a default style; openpyxl only warns about it.
            warnings.simplefilter("ignore", UserWarning)
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ImportFileError(
            f"The file is not a readable XLSX workbook ({exc}).", f"文件不是可读取的 XLSX 工作簿 ({exc})。"
        ) from exc
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is there
        try:
            yield from enumerate(sheet.iter_rows(values_only=True), start=1)
        except (ParseError, zipfile.BadZipFile, KeyError) as exc:
            raise ImportFileError(
                f"The workbook's first sheet is damaged ({exc}).", f"工作簿的第一个工作表已损坏 ({exc})。"
            ) from exc
    finally:
        workbook.close()


def _file_rows(path: Path) -> Iterator[tuple[int, Sequence[Any]]]:
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return _xlsx_rows(path)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            "Old Excel .xls files are not supported: save it as .xlsx or as CSV UTF-8.",
            "不支持旧版 Excel .xls 文件: 请另存为 .xlsx 或 CSV UTF-8。",
        )
    return _csv_rows(path)


def _mapping_rows(rows: Iterable[Mapping[str, Any]], schema: _Schema) -> Iterator[tuple[int, Sequence[Any]]]:
    """In-memory rows as a header (the first row's keys) then values; data lines count from 2."""
    header: list[str] | None = None
    for line, row in enumerate(rows, start=2):
        if header is None:
            header = [str(k) for k in row.keys()]
            yield 1, header
        yield line, [row.get(k) for k in header]
    if header is None:
        yield 1, [c.name for c in schema.columns]  # no rows: an empty import, not an empty file


# ---------------------------------------------------------------------------------------------
# Validation: one streaming pass.


def _blank(cells: Sequence[Any]) -> bool:
    for c in cells:
        if c is not None and (c.__class__ is not str or c.strip()):
            return False
    return True


def _header_name(raw: Any) -> str:
    return _norm(raw).lower().replace(" ", "_")


class ValidatedRows:
    """The outcome of the validation pass: errors, warnings, counts, and the good rows spilled to disk.

    Use it as a context manager (or call `close`) so the spill file goes away.
    """

    def __init__(self, kind: ImportKind) -> None:
        self.kind: ImportKind = kind
        self.rows_total = 0
        self.rows_valid = 0
        self.errors: list[RowError] = []
        self.errors_total = 0
        self.warnings: list[str] = []
        self.warnings_zh: list[str] = []
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

    def _warn(self, en: str, zh: str) -> None:
        self.warnings.append(en)
        self.warnings_zh.append(zh)

    def _keep(self, row: tuple[Any, ...]) -> None:
        self._pending.append(row)
        if len(self._pending) >= BATCH_SIZE:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            pickle.dump(self._pending, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
            self._batches += 1
            self._pending = []

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """The good rows, `(line, value, value, …)` in column order, a batch at a time."""
        self._flush()
        self._spill.seek(0)
        for _ in range(self._batches):
            yield pickle.load(self._spill)


def _validate(kind: ImportKind, source: Iterator[tuple[int, Sequence[Any]]]) -> ValidatedRows:
    schema = SCHEMAS[kind]
    started = _time.perf_counter()
    out = ValidatedRows(kind)
    try:
        _validate_into(out, schema, source)
    except BaseException:
        out.close()
        raise
    out._flush()
    out.seconds = _time.perf_counter() - started
    return out


def _validate_into(out: ValidatedRows, schema: _Schema, source: Iterator[tuple[int, Sequence[Any]]]) -> None:
    header_line, header = 0, None
    for line, cells in source:
        if not _blank(cells):
            header_line, header = line, [_header_name(c) for c in cells]
            break
    if header is None:
        raise ImportFileError("The file is empty: no header row.", "文件是空的: 没有表头行。")

    positions: dict[str, int] = {}
    header_ok = True
    for index, name in enumerate(header):
        if not name:
            continue
        if name in positions:
            out.add_error(_row_error(header_line, name, "", _DUP_COLUMN))
            header_ok = False
        else:
            positions[name] = index
    known = {c.name for c in schema.columns}
    for column in schema.columns:
        if column.required and column.name not in positions:
            out.add_error(_row_error(header_line, column.name, "", _MISSING_COLUMN))
            header_ok = False
    unknown = [name for name in positions if name not in known]
    if unknown:
        names = ", ".join(unknown)
        out._warn(f"Ignored unknown columns: {names}", f"已忽略未知的列: {names}")
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
            except _Invalid as exc:
                values.append(None)
                bad.append(i)
                out.add_error(_row_error(line, name, _cell_text(raw).strip(), exc.msg, **exc.params))
        # Register the key whenever it parsed, so a later duplicate is named even if this row is bad.
        if not any(p in bad for p in key_positions):
            key = tuple(values[p + 1] for p in key_positions)
            first = seen.get(key)
            if first is None:
                seen[key] = line
            else:
                raw = cells[positions[schema.duplicate_column]]
                out.add_error(
                    _row_error(
                        line, schema.duplicate_column, _cell_text(raw).strip(), schema.duplicate, first=first
                    )
                )
                bad.append(-1)
        if bad:
            continue
        out.rows_valid += 1
        if is_products:
            out.categories.add(values[_P["category"]])
            out.merchants.add(values[_P["merchant"]])
        else:
            out.categories.add(values[3])
        out._keep(tuple(values))


def validate_file(kind: ImportKind, path: str | PathLike[str]) -> ValidatedRows:
    """Read and validate a CSV or XLSX file in one streaming pass (plain CPU work: use a thread).

    Raises `ImportFileError` when the file as a whole cannot be read.
    """
    path = Path(path)
    return _validate(kind, _file_rows(path))


def validate_rows(kind: ImportKind, rows: Iterable[Mapping[str, Any]]) -> ValidatedRows:
    """Validate in-memory rows (dicts keyed by column name); line numbers count from 2."""
    return _validate(kind, _mapping_rows(rows, SCHEMAS[kind]))


# ---------------------------------------------------------------------------------------------
# The report.


@dataclass
class ImportReport:
    kind: ImportKind
    rows_total: int = 0
    rows_valid: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    dry_run: bool = False
    tier_changes: list[TierChangeInfo] = field(default_factory=list)  # existing products only
    errors_total: int = 0  # may exceed len(errors) on a hopeless file
    blocked: bool = False  # there are errors and skip_invalid was off: a real import writes nothing
    warnings_zh: list[str] = field(default_factory=list, repr=False)
    seconds: float = 0.0

    @property
    def rows_invalid(self) -> int:
        return self.rows_total - self.rows_valid

    def summary(self, lang: str = "zh") -> str:
        """A few lines for the admin: counts, what was (or would be) written, warnings."""
        bad = self.rows_invalid
        moved = len(self.tier_changes)
        graded = self.kind == "products"  # only products have tiers to report
        what = t(f"import.kind.{self.kind}", lang)
        lines = [t("import.head", lang, what=what, total=self.rows_total, valid=self.rows_valid, bad=bad)]
        counts = t(
            "import.counts", lang, inserted=self.inserted, updated=self.updated, unchanged=self.unchanged
        )
        if self.dry_run:
            tail = t("import.dry_run_tail", lang, moved=moved) if graded else ""
            lines.append(t("import.dry_run", lang, counts=counts, tail=tail))
            if self.blocked:
                lines.append(t("import.dry_run_blocked", lang))
        elif self.written:
            tail = t("import.written_tail", lang, moved=moved) if graded else ""
            lines.append(t("import.written", lang, counts=counts, tail=tail))
            if bad:
                lines.append(t("import.skipped", lang, bad=bad))
        else:
            lines.append(t("import.nothing_written", lang))
        warnings = self.warnings if lang == "en" else (self.warnings_zh or self.warnings)
        lines.extend(t("import.warning", lang, warning=w) for w in warnings)
        return "\n".join(lines)

    def error_report(self, lang: str = "zh", limit: int | None = None) -> str:
        """One line per bad cell (the first `limit` of them)."""
        shown = self.errors if limit is None else self.errors[:limit]
        lines = [e.describe(lang) for e in shown]
        more = self.errors_total - len(shown)
        if more > 0:
            noun = "error" if more == 1 else "errors"
            lines.append(f"… and {more} more {noun}" if lang == "en" else f"… 另有 {more} 处错误")
        return "\n".join(lines)


def _report_from(validated: ValidatedRows, *, dry_run: bool) -> ImportReport:
    return ImportReport(
        kind=validated.kind,
        rows_total=validated.rows_total,
        rows_valid=validated.rows_valid,
        errors=list(validated.errors),
        warnings=list(validated.warnings),
        warnings_zh=list(validated.warnings_zh),
        errors_total=validated.errors_total,
        dry_run=dry_run,
    )


# ---------------------------------------------------------------------------------------------
# Writing.


def _insert(conn: AsyncConnection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"imports support SQLite and PostgreSQL, not {name}")


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _ids_by_name(
    conn: AsyncConnection, table: Table, column: str, names: Iterable[str]
) -> dict[str, int]:
    ids: dict[str, int] = {}
    key = table.c[column]
    async with custom_plans(conn):
        for chunk in _chunks(sorted(names)):
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


_EXISTING_COLUMNS = ("id", "sku", *_PRODUCT_DATA, *GRADE_COLUMNS)
_DATA_AT = 2  # where the data columns start in an existing row (after id and sku)
_OLD_GRADE_AT = _DATA_AT + len(_PRODUCT_DATA)
_UPSERT_COLUMNS = ("sku", *_PRODUCT_DATA, *GRADE_COLUMNS, "graded_at", "updated_at")
_NOT_UPSERTED = ("sku", "category_id", "merchant_id")
# Positions in a parsed product row.
_SKU, _TITLE, _CATEGORY, _MERCHANT = _P["sku"], _P["title"], _P["category"], _P["merchant"]
_COPIED = tuple(
    _P[c] for c in ("price", *INDICATORS, "factory_verified", "counterfeit_flag", "image_url", "tags")
)
_GRADE_INPUT = tuple(_P[c] for c in GRADE_INPUT_COLUMNS)
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
        for chunk in _chunks(skus):
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
        self._gate_at = [_DATA_AT + _PRODUCT_DATA.index(c) for c in _GATE_FLAGS]
        self._new_gate_at = [_P[c] for c in _GATE_FLAGS]

    async def plan(self, batch: list[tuple[Any, ...]]) -> tuple[list[_Item], list[tuple[Any, ...]]]:
        """Compare a batch with what is stored: unchanged rows are done; the rest need a grade."""
        existing = await _existing_products(self.conn, [row[_SKU] for row in batch])
        categories, merchants, version = self.categories, self.merchants, self.policy.version
        items: list[_Item] = []
        for row in batch:
            data = (
                row[_TITLE],
                row[_P["brand"]],
                categories.get(row[_CATEGORY]),
                merchants.get(row[_MERCHANT]),
                *(row[i] for i in _COPIED),
                row[_P["listed_at"]],
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
        if dry_run:
            categories = await _ids_by_name(conn, CATEGORY, "name", validated.categories)
            merchants = await _ids_by_name(conn, MERCHANT, "code", validated.merchants)
        else:
            categories = await _ensure_names(conn, CATEGORY, "name", validated.categories, lambda _: {})
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
        if dry_run:
            categories = await _ids_by_name(conn, CATEGORY, "name", validated.categories)
        else:
            categories = await _ensure_names(conn, CATEGORY, "name", validated.categories, lambda _: {})
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
                for chunk in _chunks(wanted):
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
) -> ImportReport:
    """Validate a CSV/XLSX file (in a worker thread) and write it. Raises `ImportFileError`."""
    if kind not in SCHEMAS:
        raise ValueError(f"unknown import kind {kind!r}: use 'products' or 'streamers'")
    validated = await asyncio.to_thread(validate_file, kind, path)
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
) -> ImportReport:
    """Import a products file: upsert by sku, grade every row, keep tier history."""
    return await import_file(
        sessionmaker, "products", path, dry_run=dry_run, skip_invalid=skip_invalid, policy=policy
    )


async def import_streamers(
    sessionmaker: async_sessionmaker[AsyncSession],
    path: str | PathLike[str],
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
) -> ImportReport:
    """Import streamer sales: one row per streamer and category, upserted."""
    return await import_file(sessionmaker, "streamers", path, dry_run=dry_run, skip_invalid=skip_invalid)


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
