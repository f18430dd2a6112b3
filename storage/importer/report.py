"""What an import tells its caller, as plain values: the counts, each bad cell, a file it cannot read.

A reason is the key of its wording in bot/locales/import.toml; bot/import_report.py renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from storage.regrade import TierChangeInfo

__all__ = ["FileProblem", "ImportFileError", "ImportKind", "ImportReport", "Reason", "RowError"]

ImportKind = Literal["products", "streamers"]


class Reason(StrEnum):
    """Why a cell (or a header column) was refused; params named in the comment."""

    REQUIRED = "import.row.required"
    TOO_LONG = "import.row.too_long"  # n
    POSITIVE = "import.row.positive"
    NON_NEGATIVE = "import.row.non_negative"
    RANGE = "import.row.range"  # lo, hi
    RATE = "import.row.rate"
    FLAG = "import.row.flag"
    COUNT = "import.row.count"
    TOO_BIG = "import.row.too_big"  # n
    TELEGRAM_ID = "import.row.telegram_id"
    URL = "import.row.url"
    DATE = "import.row.date"
    DUPLICATE_SKU = "import.row.duplicate_sku"  # first
    DUPLICATE_SALE = "import.row.duplicate_sale"  # first
    MISSING_COLUMN = "import.row.missing_column"
    DUPLICATE_COLUMN = "import.row.duplicate_column"


class FileProblem(StrEnum):
    """Why a file as a whole cannot be read; params named in the comment."""

    UTF16 = "import.file.utf16"
    NOT_TEXT = "import.file.not_text"
    ENCODING = "import.file.encoding"
    CSV = "import.file.csv"  # line, detail
    XLSX = "import.file.xlsx"  # detail
    SHEET = "import.file.sheet"  # detail
    XLS = "import.file.xls"
    EMPTY = "import.file.empty"
    # Limits (storage/importer/limits.py); `limit` is the setting's value.
    TOO_LARGE = "import.file.too_large"  # size, limit (bytes)
    UNZIPPED_TOO_LARGE = "import.file.unzipped_too_large"  # size, limit (bytes)
    RATIO = "import.file.ratio"  # part, ratio, limit
    TOO_MANY_PARTS = "import.file.too_many_parts"  # n, limit
    TOO_MANY_ROWS = "import.file.too_many_rows"  # limit
    TOO_MANY_COLUMNS = "import.file.too_many_columns"  # line, n, limit
    CELL_TOO_LONG = "import.file.cell_too_long"  # line, column, n, limit


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, no header)."""

    def __init__(self, problem: FileProblem, **params: object) -> None:
        super().__init__(problem.value, params)
        self.problem = problem
        self.params = params


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad cell: `line` is the row number a spreadsheet shows (the header is line 1)."""

    line: int
    column: str
    value: str  # the cell as the user typed it, stripped
    reason: Reason
    params: dict[str, object] = field(default_factory=dict, hash=False)


@dataclass
class ImportReport:
    kind: ImportKind
    rows_total: int = 0
    rows_valid: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # the first few header names no column has
    ignored_total: int = 0  # how many there are in all
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    dry_run: bool = False
    tier_changes: list[TierChangeInfo] = field(default_factory=list)  # existing products only
    errors_total: int = 0  # may exceed len(errors) on a hopeless file
    blocked: bool = False  # there are errors and skip_invalid was off: a real import writes nothing
    seconds: float = 0.0

    @property
    def rows_invalid(self) -> int:
        return self.rows_total - self.rows_valid
