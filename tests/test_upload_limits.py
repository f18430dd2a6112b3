"""Bad input never costs more than its size: upload limits, bombs, short reports, clean text, bounds."""

from __future__ import annotations

import asyncio
import struct
import tracemalloc
import zipfile
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from aiogram.types import Document

from benchmarks.upload_bombs import write_cell_bomb, write_row_bomb
from bot.import_report import error_list, file_error_text, import_summary
from storage.importer import (
    MAX_ERRORS_KEPT,
    FileProblem,
    ImportFileError,
    ImportLimits,
    Reason,
    import_products,
    import_streamer_rows,
    validate_file,
    validate_rows,
)
from storage.importer.cells import clean
from storage.tables import Streamer
from tests.conftest import ADMIN_ID
from tests.harness import texts
from tests.test_import import PRODUCT_COLUMNS, product, spilled, write_csv

LIMITS = ImportLimits()


@pytest.fixture(scope="module")
def cell_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 1 MB on disk; its one shared string expands to 1 GiB."""
    return write_cell_bomb(tmp_path_factory.mktemp("bombs") / "cell-bomb.xlsx")


@pytest.fixture(scope="module")
def row_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 128 KB on disk: a product header, then 2,000,000 rows of one cell."""
    return write_row_bomb(tmp_path_factory.mktemp("bombs") / "row-bomb.xlsx")


def refusal(path: Path, limits: ImportLimits = LIMITS) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        validate_file("products", path, limits)
    return caught.value


# --------------------------------------------------------------------------- bombs


def test_the_1_gib_cell_bomb_is_refused_within_300_mb(cell_bomb: Path) -> None:
    assert cell_bomb.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        error = refusal(cell_bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300 << 20
    assert error.problem == FileProblem.UNZIPPED_TOO_LARGE
    assert error.params["size"] > 1 << 30
    assert "IMPORT_MAX_UNZIPPED_BYTES" in file_error_text(error, "en")
    assert "1,024.0 MB" in file_error_text(error, "en") and "200.0 MB" in file_error_text(error, "zh")


def test_the_cell_bomb_is_refused_by_its_ratio_when_the_size_limit_is_high(cell_bomb: Path) -> None:
    error = refusal(cell_bomb, replace(LIMITS, max_unzipped_bytes=4 << 30))
    assert error.problem == FileProblem.RATIO
    assert error.params["part"] == "xl/sharedStrings.xml" and error.params["ratio"] > 100
    assert "IMPORT_MAX_RATIO" in file_error_text(error, "zh")


def test_the_2_million_row_bomb_is_refused_before_it_is_parsed(row_bomb: Path) -> None:
    assert row_bomb.stat().st_size < 256 << 10
    error = refusal(row_bomb)
    assert error.problem == FileProblem.RATIO
    assert error.params["part"] == "xl/worksheets/sheet1.xml"


def test_rows_past_the_limit_stop_the_read_at_the_limit(row_bomb: Path, tmp_path: Path) -> None:
    # With the ratio guard out of the way the row limit still stops it, right after line 1,000.
    error = refusal(row_bomb, replace(LIMITS, max_ratio=1e9, max_rows=1000))
    assert error.problem == FileProblem.TOO_MANY_ROWS and error.params == {"limit": 1000}
    assert "IMPORT_MAX_ROWS" in file_error_text(error, "en") and "1000" in file_error_text(error, "en")
    csv_file = write_csv(tmp_path / "long.csv", [product(f"L-{i}") for i in range(10)])
    assert refusal(csv_file, replace(LIMITS, max_rows=5)).problem == FileProblem.TOO_MANY_ROWS
    with validate_file("products", csv_file, replace(LIMITS, max_rows=11)) as validated:
        assert validated.rows_valid == 10  # the header and 10 rows fit in 11 lines


def test_a_row_far_down_an_xlsx_is_refused_by_its_line_number(tmp_path: Path) -> None:
    # Two rows on disk, but the second is numbered 1,000,000: the reader would yield every line between.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(PRODUCT_COLUMNS)
    sheet.cell(row=1_000_000, column=1, value="far")
    workbook.save(tmp_path / "far.xlsx")
    error = refusal(tmp_path / "far.xlsx", replace(LIMITS, max_rows=1000))
    assert error.problem == FileProblem.TOO_MANY_ROWS


def _lie_about_size(path: Path, member: str, size: int) -> None:
    """Rewrite `member`'s uncompressed size in the central directory and its local header."""
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == member.encode():
            struct.pack_into("<I", data, at + 24, size)
            local = struct.unpack_from("<I", data, at + 42)[0]
            struct.pack_into("<I", data, local + 22, size)
            break
        at = data.find(b"PK\x01\x02", at + 4)
    else:
        raise AssertionError(f"{member} not in {path}")
    path.write_bytes(bytes(data))


def test_a_directory_that_lies_about_sizes_is_caught_while_streaming(tmp_path: Path) -> None:
    bomb = write_cell_bomb(tmp_path / "liar.xlsx", cell_bytes=64 << 20)
    _lie_about_size(bomb, "xl/sharedStrings.xml", 4096)  # declared: 4 KB, ratio about 0.06
    tracemalloc.start()
    try:
        error = refusal(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20  # never more than a chunk of the 64 MB it really holds
    assert error.problem == FileProblem.XLSX and "CRC" in str(error.params["detail"])


def test_a_zip_of_thousands_of_parts_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(1001):
            zf.writestr(f"p/{i}.xml", "")
    error = refusal(path)
    assert error.problem == FileProblem.TOO_MANY_PARTS and error.params == {"n": 1001, "limit": 1000}


def test_a_file_over_the_byte_limit_is_refused_unread(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "big.csv", [product(f"B-{i}") for i in range(50)])
    error = refusal(path, replace(LIMITS, max_bytes=1000))
    assert error.problem == FileProblem.TOO_LARGE and error.params["limit"] == 1000
    assert "IMPORT_MAX_BYTES" in file_error_text(error, "en") and "1000 B" in file_error_text(error, "en")
    assert "IMPORT_MAX_BYTES" in file_error_text(error, "zh")


def test_too_many_columns_and_a_too_long_cell_name_their_limits(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join([*PRODUCT_COLUMNS, *(f"x{i}" for i in range(200_000))]) + "\n", "utf-8")
    error = refusal(wide)
    assert error.problem == FileProblem.TOO_MANY_COLUMNS
    assert error.params == {"line": 1, "n": 200_022, "limit": 200}
    assert "IMPORT_MAX_COLUMNS" in file_error_text(error, "en")

    long_cell = write_csv(tmp_path / "long-cell.csv", [product("C-1"), product("C-2", title="长" * 10_001)])
    error = refusal(long_cell)
    assert error.problem == FileProblem.CELL_TOO_LONG
    assert error.params == {"line": 3, "column": 2, "n": 10_001, "limit": 10_000}
    assert "IMPORT_MAX_CELL_CHARS" in file_error_text(error, "zh")


# --------------------------------------------------------------------------- short reports


def test_a_warning_about_unknown_columns_names_five_and_counts_the_rest(tmp_path: Path) -> None:
    columns = [*PRODUCT_COLUMNS, *(f"extra_{i}" for i in range(150))]
    path = write_csv(tmp_path / "extra.csv", [product("E-1")], columns=columns)
    with validate_file("products", path) as validated:
        assert validated.ignored_columns == [f"extra_{i}" for i in range(5)]
        assert validated.ignored_total == 150


async def test_an_error_report_lists_the_first_1000_and_counts_the_rest(db, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv", [product(f"X-{i}", price="abc", gmv_30d="-1") for i in range(1500)]
    )
    report = await import_products(db.sessionmaker, path)
    assert len(report.errors) == MAX_ERRORS_KEPT == 1000
    assert report.errors_total == 3000 and not report.written
    listed = error_list(report, "en").splitlines()
    assert len(listed) == 1001 and listed[-1] == "… and 2000 more errors"
    assert listed[0].startswith("line 2, column price")

    columns = [*PRODUCT_COLUMNS, *(f"extra_{i}" for i in range(150))]
    wide = write_csv(tmp_path / "wide.csv", [product("W-1")], columns=columns)
    summary = import_summary(await import_products(db.sessionmaker, wide, dry_run=True), "en")
    assert "extra_0, extra_1, extra_2, extra_3, extra_4 and others, 150 in all" in summary
    assert "extra_5" not in summary and len(summary) < 500


# --------------------------------------------------------------------------- clean text, bounds


def test_bidi_controls_and_zero_width_characters_are_removed() -> None:
    assert clean("a\u202eb\u2066c\u2069d\u200be\u200df\ufeffg\u200fh") == "abcdefgh"
    assert clean("云南白药 牙膏") == "云南白药 牙膏"  # other text is left alone


async def test_catalog_text_loses_bidi_controls_and_zero_width_characters_on_import(db) -> None:
    row = product(
        "\u200bSKU-1",
        title="好物\u202egpj.exe\u202c 牙膏",
        brand="\ufeff云南\u200d白药",
        merchant="M\u2066001\u2069",
        tags="新品\u200b;\u202a跨境",
    )
    rows = spilled(validate_rows("products", [row]))
    assert len(rows) == 1
    values = dict(zip(PRODUCT_COLUMNS, rows[0], strict=True))
    assert values["sku"] == "SKU-1" and values["title"] == "好物gpj.exe 牙膏"
    assert values["brand"] == "云南白药" and values["merchant"] == "M001" and values["tags"] == "新品;跨境"

    report = await import_streamer_rows(
        db.sessionmaker, [{"telegram_id": "77", "name": "小\u202e明", "category": "美妆个护", "gmv_30d": "1"}]
    )
    assert report.written
    async with db.sessionmaker() as session:
        streamer = await session.get(Streamer, 77)
    assert streamer is not None and streamer.name == "小明"


@pytest.mark.parametrize(
    ("column", "value", "reason", "params"),
    [
        ("price", "1000001", Reason.TOO_BIG, {"n": 1_000_000}),
        ("price", "1e308", Reason.TOO_BIG, {"n": 1_000_000}),
        ("price", "inf", Reason.POSITIVE, {}),
        ("price", "nan", Reason.POSITIVE, {}),
        ("price", "1e400", Reason.POSITIVE, {}),
        ("gmv_30d", "1e12", Reason.TOO_BIG, {"n": 100_000_000_000}),
        ("active_streamers_30d", "100000000", Reason.TOO_BIG, {"n": 10_000_000}),
        ("price_index", "1e308", Reason.TOO_BIG, {"n": 1000}),
    ],
)
def test_implausible_numbers_are_refused_with_line_column_and_reason(
    column: str, value: str, reason: Reason, params: dict[str, object]
) -> None:
    with validate_rows("products", [product("N-1"), product("N-2", **{column: value})]) as validated:
        assert validated.rows_valid == 1
        [error] = validated.errors
    assert (error.line, error.column, error.reason, error.params) == (3, column, reason, params)


def test_the_price_limit_comes_from_the_limits() -> None:
    strict = replace(LIMITS, max_price=100)
    with validate_rows("products", [product("P-1", price="150")], strict) as validated:
        assert [e.reason for e in validated.errors] == [Reason.TOO_BIG]
    with validate_rows("products", [product("P-1", price="150")]) as validated:
        assert validated.rows_valid == 1


def test_a_telegram_id_of_thousands_of_digits_is_a_row_error_not_a_crash() -> None:
    row = {"telegram_id": "9" * 5000, "name": "x", "category": "美妆个护", "gmv_30d": "1"}
    with validate_rows("streamers", [row]) as validated:
        assert [e.reason for e in validated.errors] == [Reason.TOO_BIG]


# --------------------------------------------------------------------------- through the chat


async def _send(chat, data: bytes, name: str, *, size: int | None = None) -> list:
    file_id = f"bomb{len(chat.session.files) + 1}"
    chat.session.files[file_id] = data
    document = Document(
        file_id=file_id, file_unique_id=file_id, file_name=name, file_size=len(data) if size is None else size
    )
    return await chat.message(ADMIN_ID, None, document=document, caption="/import")


@pytest.mark.parametrize("bomb", ["cell_bomb", "row_bomb"])
async def test_a_chat_import_of_a_bomb_is_refused_and_the_bot_keeps_answering(
    chat, bomb: str, request: pytest.FixtureRequest
) -> None:
    data = request.getfixturevalue(bomb).read_bytes()
    imported, other = await asyncio.gather(_send(chat, data, "bomb.xlsx"), chat.message(555, "/help"))
    reply = "\n".join(texts(imported))
    assert "无法读取文件" in reply and ("IMPORT_MAX_UNZIPPED_BYTES" in reply or "IMPORT_MAX_RATIO" in reply)
    assert texts(other), "a user's /help went unanswered while the bomb was refused"
    assert texts(await chat.message(555, "/help")), "the next update went unanswered"


async def test_a_chat_upload_over_the_byte_limit_is_refused_before_download(chat) -> None:
    sent = await _send(chat, b"sku\n", "big.csv", size=(20 << 20) + 1)
    assert not [r for r in sent if type(r).__name__ == "GetFile"]
    assert "IMPORT_MAX_BYTES" in "\n".join(texts(sent))
