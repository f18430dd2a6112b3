"""Reading files as `(line, cells)` pairs, streamed: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX."""

from __future__ import annotations

import codecs
import csv
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from storage.importer.limits import ImportLimits
from storage.importer.report import FileProblem, ImportFileError

__all__ = ["check_zip", "detect_encoding", "file_rows", "mapping_rows"]

Rows = Iterator[tuple[int, Sequence[Any]]]

MAX_PARTS = 1000  # a workbook has a dozen parts; thousands is a trick, not a spreadsheet
_RATIO_FLOOR = 1 << 20  # parts smaller than this may compress as well as they like
_CHUNK = 1 << 20
_ROW_TAGS = (b"<row ", b"<row>", b"<row/", b":row ", b":row>", b":row/")  # prefixed in strict OOXML


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8 or GB18030; anything else is an `ImportFileError`."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise ImportFileError(FileProblem.UTF16)
        for encoding in ("utf-8", "gb18030"):
            fh.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)("strict")
            try:
                while chunk := fh.read(1 << 20):
                    if b"\x00" in chunk:
                        raise ImportFileError(FileProblem.NOT_TEXT)
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError:
                continue
    raise ImportFileError(FileProblem.ENCODING)


def csv_rows(path: Path) -> Rows:
    encoding = detect_encoding(path)
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
            raise ImportFileError(FileProblem.CSV, line=line + 1, detail=str(exc)) from exc


def _chain_first(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def xlsx_rows(path: Path) -> Rows:
    import openpyxl  # a heavy import, only for spreadsheets
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # Files from WPS or Numbers often lack a default style; openpyxl only warns about it.
            warnings.simplefilter("ignore", UserWarning)
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(FileProblem.XLSX, detail=str(exc)[:200]) from exc
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is there
        try:
            yield from enumerate(sheet.iter_rows(values_only=True), start=1)
        except (ParseError, zipfile.BadZipFile, KeyError, ValueError, OverflowError) as exc:
            raise ImportFileError(FileProblem.SHEET, detail=str(exc)[:200]) from exc
    finally:
        workbook.close()


def _check_ratio(part: str, size: int, compressed: int, limits: ImportLimits) -> None:
    ratio = size / max(compressed, 1)
    if size > _RATIO_FLOOR and ratio > limits.max_ratio:
        raise ImportFileError(FileProblem.RATIO, part=part[:100], ratio=round(ratio), limit=limits.max_ratio)


def check_zip(path: Path, limits: ImportLimits) -> None:
    """Refuse a zip bomb before a parser sees it: part count, declared sizes and ratios, then
    the real decompressed bytes (a directory can lie), counted a chunk at a time."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_PARTS:
                raise ImportFileError(FileProblem.TOO_MANY_PARTS, n=len(parts), limit=MAX_PARTS)
            declared = sum(p.file_size for p in parts)
            if declared > limits.max_unzipped_bytes:
                raise ImportFileError(
                    FileProblem.UNZIPPED_TOO_LARGE, size=declared, limit=limits.max_unzipped_bytes
                )
            for p in parts:
                _check_ratio(p.filename, p.file_size, p.compress_size, limits)
            total = 0
            for p in parts:
                size, rows, tail = 0, 0, b""
                is_sheet = p.filename.startswith("xl/worksheets/")
                with archive.open(p) as stream:
                    while chunk := stream.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if total > limits.max_unzipped_bytes:
                            raise ImportFileError(
                                FileProblem.UNZIPPED_TOO_LARGE, size=total, limit=limits.max_unzipped_bytes
                            )
                        _check_ratio(p.filename, size, p.compress_size, limits)
                        if is_sheet:
                            # Count the rows here, at C speed, rather than let the parser find out.
                            window = tail + chunk
                            rows += sum(window.count(tag) for tag in _ROW_TAGS)
                            tail = window[-4:]  # shorter than a tag: nothing is counted twice
                            if rows > limits.max_rows:
                                raise ImportFileError(FileProblem.TOO_MANY_ROWS, limit=limits.max_rows)
    except ImportFileError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
        # A bad CRC (a part longer or shorter than declared), encryption, an unknown compression.
        raise ImportFileError(FileProblem.XLSX, detail=str(exc)[:200]) from exc


def bounded(rows: Rows, limits: ImportLimits) -> Rows:
    """`rows`, refused at the first line past the row, column or cell-length limit."""
    max_rows, max_columns, max_chars = limits.max_rows, limits.max_columns, limits.max_cell_chars
    try:
        for line, cells in rows:
            if line > max_rows:
                raise ImportFileError(FileProblem.TOO_MANY_ROWS, limit=max_rows)
            width = len(cells)
            if width > max_columns:
                while width and cells[width - 1] in (None, ""):  # a styled but empty tail is no column
                    width -= 1
                if width > max_columns:
                    raise ImportFileError(FileProblem.TOO_MANY_COLUMNS, line=line, n=width, limit=max_columns)
            for index, cell in enumerate(cells):
                if cell.__class__ is str and len(cell) > max_chars:
                    raise ImportFileError(
                        FileProblem.CELL_TOO_LONG, line=line, column=index + 1, n=len(cell), limit=max_chars
                    )
            yield line, cells
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # the workbook now, not when the generator is collected


def file_rows(path: Path, limits: ImportLimits | None = None) -> Rows:
    """The rows of a CSV or XLSX file, told apart by their first bytes (or the suffix), within `limits`."""
    limits = limits or ImportLimits()
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImportFileError(FileProblem.TOO_LARGE, size=size, limit=limits.max_bytes)
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        check_zip(path, limits)
        return bounded(xlsx_rows(path), limits)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(FileProblem.XLS)
    return bounded(csv_rows(path), limits)


def mapping_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Rows:
    """In-memory rows as a header (the first row's keys) then values; data lines count from 2."""
    header: list[str] | None = None
    for line, row in enumerate(rows, start=2):
        if header is None:
            header = [str(k) for k in row.keys()]
            yield 1, header
        yield line, [row.get(k) for k in header]
    if header is None:
        yield 1, list(columns)  # no rows: an empty import, not an empty file
