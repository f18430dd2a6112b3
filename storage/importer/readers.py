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

from storage.importer.report import FileProblem, ImportFileError

__all__ = ["detect_encoding", "file_rows", "mapping_rows"]

Rows = Iterator[tuple[int, Sequence[Any]]]


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
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ImportFileError(FileProblem.XLSX, detail=str(exc)) from exc
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some writers store a wrong sheet size; read what is there
        try:
            yield from enumerate(sheet.iter_rows(values_only=True), start=1)
        except (ParseError, zipfile.BadZipFile, KeyError) as exc:
            raise ImportFileError(FileProblem.SHEET, detail=str(exc)) from exc
    finally:
        workbook.close()


def file_rows(path: Path) -> Rows:
    """The rows of a CSV or XLSX file, told apart by their first bytes (or the suffix)."""
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        return xlsx_rows(path)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(FileProblem.XLS)
    return csv_rows(path)


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
