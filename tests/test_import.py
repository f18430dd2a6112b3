"""Imports: encodings and XLSX, validation with exact lines and columns, upserts, tier history, streamers."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.import_report import error_list, file_error_text, import_summary, row_error_text
from core.grading import Indicators, grade
from core.policy import default_policy
from storage.importer import (
    ImportFileError,
    Reason,
    RowError,
    import_file,
    import_product_rows,
    import_products,
    import_streamer_rows,
    import_streamers,
    validate_file,
    validate_rows,
)
from storage.tables import Category, Merchant, Product, Streamer, StreamerSale, TierChange

PRODUCT_COLUMNS = (
    "sku,title,brand,category,merchant,price,brand_authorized,brand_awareness,price_index,lowest_price_ratio,"
    "commission_rate,active_streamers_30d,shop_rating,refund_rate,dispute_rate,gmv_30d,conversion_rate,"
    "factory_verified,counterfeit_flag,image_url,tags,listed_at"
).split(",")


def product(sku: str, **changes: Any) -> dict[str, Any]:
    """A valid product row (as text, the way a CSV holds it); scores about 80.7, tier L4."""
    row: dict[str, Any] = {
        "sku": sku,
        "title": f"云南白药 牙膏 {sku}",
        "brand": "云南白药",
        "category": "美妆个护",
        "merchant": "M001",
        "price": "39.9",
        "brand_authorized": "1",
        "brand_awareness": "80",
        "price_index": "1.0",
        "lowest_price_ratio": "1.0",
        "commission_rate": "0.2",
        "active_streamers_30d": "30",
        "shop_rating": "4.8",
        "refund_rate": "0.02",
        "dispute_rate": "0.001",
        "gmv_30d": "500000",
        "conversion_rate": "0.05",
        "factory_verified": "1",
        "counterfeit_flag": "0",
        "image_url": "",
        "tags": "",
        "listed_at": "",
    }
    row.update(changes)
    return row


def write_csv(
    path: Path, rows: list[dict[str, Any]], *, encoding: str = "utf-8", columns=PRODUCT_COLUMNS
) -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def write_lines(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


async def count(db, model) -> int:
    async with db.sessionmaker() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def products_by_sku(db) -> dict[str, Product]:
    async with db.sessionmaker() as session:
        return {p.sku: p for p in (await session.exec(select(Product))).all()}


SAMPLE = [
    product("YG-001", tags="新品；跨境", listed_at="2026-11-01", image_url="https://img.example.com/1.png"),
    product("YG-002", title="高露洁 牙刷 软毛", brand="高露洁", merchant="M002", commission_rate="25%"),
    product("MZ-003", title="完美日记 口红", brand="完美日记", category="彩妆", conversion_rate="3.2%"),
]


def sample_xlsx(path: Path) -> Path:
    """The SAMPLE rows as a spreadsheet user types them: numbers as numbers, a date as a date."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(PRODUCT_COLUMNS)
    for row in SAMPLE:
        cells: list[Any] = []
        for column in PRODUCT_COLUMNS:
            value = row[column]
            if column == "listed_at" and value:
                cells.append(datetime.fromisoformat(value))
            elif column in ("brand_authorized", "factory_verified"):
                cells.append(value == "1")  # Excel TRUE/FALSE
            elif column in ("active_streamers_30d", "counterfeit_flag"):
                cells.append(int(value))
            elif value and not value.endswith("%"):
                try:
                    cells.append(float(value))
                except ValueError:
                    cells.append(value)
            else:
                cells.append(value or None)
        ws.append(cells)
    wb.save(path)
    return path


def spilled(validated) -> list[tuple]:
    with validated:
        return [row[1:] for batch in validated.batches() for row in batch]  # without line numbers


def test_every_encoding_and_xlsx_parse_to_the_same_rows(tmp_path: Path) -> None:
    files = [
        write_csv(tmp_path / "utf8.csv", SAMPLE),
        write_csv(tmp_path / "bom.csv", SAMPLE, encoding="utf-8-sig"),
        write_csv(tmp_path / "gb.csv", SAMPLE, encoding="gb18030"),
        sample_xlsx(tmp_path / "sheet.xlsx"),
    ]
    parsed = [spilled(validate_file("products", f)) for f in files]
    assert len(parsed[0]) == 3
    assert parsed[0][0][:2] == ("YG-001", "云南白药 牙膏 YG-001")
    for other in parsed[1:]:
        assert other == parsed[0]


async def test_every_encoding_and_xlsx_import_the_same_rows(db, tmp_path: Path) -> None:
    first = await import_products(db.sessionmaker, write_csv(tmp_path / "utf8.csv", SAMPLE))
    assert (first.inserted, first.updated, first.written, first.errors) == (3, 0, True, [])
    stored = await products_by_sku(db)
    assert stored["YG-001"].title == "云南白药 牙膏 YG-001"
    assert stored["YG-001"].tags == "新品;跨境"
    assert stored["YG-001"].listed_at == date(2026, 11, 1)
    assert stored["YG-002"].commission_rate == pytest.approx(0.25)
    assert stored["MZ-003"].conversion_rate == pytest.approx(0.032)
    for path in (
        write_csv(tmp_path / "bom.csv", SAMPLE, encoding="utf-8-sig"),
        write_csv(tmp_path / "gb.csv", SAMPLE, encoding="gb18030"),
        sample_xlsx(tmp_path / "sheet.xlsx"),
    ):
        again = await import_products(db.sessionmaker, path)
        assert (again.inserted, again.updated, again.unchanged, again.errors) == (0, 0, 3, []), path.name
    assert await count(db, Product) == 3
    assert await count(db, Merchant) == 2
    assert await count(db, Category) == 2


async def test_import_grades_and_stores_the_grade(db, tmp_path: Path) -> None:
    await import_products(db.sessionmaker, write_csv(tmp_path / "p.csv", SAMPLE[:1]))
    stored = (await products_by_sku(db))["YG-001"]
    expected = grade(Indicators.from_mapping(SAMPLE[0]), default_policy(), ("新品", "跨境"))
    assert stored.tier == expected.tier == "L4"
    assert stored.score == pytest.approx(expected.score)
    assert stored.dim_price == pytest.approx(expected.dimensions["price"])
    assert stored.badges.split(";") == list(expected.badges)
    assert stored.policy_version == default_policy().version
    assert stored.graded_at is not None and stored.graded_at.tzinfo is not None
    async with db.sessionmaker() as session:
        history = (await session.exec(select(TierChange))).all()
    assert [(h.product_id, h.old_tier, h.new_tier, h.reason) for h in history] == [
        (stored.id, None, "L4", "import")
    ]


BAD_FILE = (
    ",".join(PRODUCT_COLUMNS) + "\n"
    "G1,好物一,品牌,美妆个护,M001,10,1,80,1,1,0.2,30,4.8,0.02,0.001,500000,0.05,1,0,,,\n"  # line 2
    "B1,坏物,品牌,美妆个护,M001,abc,1,80,1,1,150%,30,4.8,0.02,0.001,500000,0.05,1,0,,,\n"  # line 3
    'G2,"多行\n标题",品牌,美妆个护,M001,10,是,80,1,1,0.2,30,4.8,0.02,0.001,500000,0.05,否,0,,,\n'  # line 4
    "\n"  # line 5: a blank row
    ",无编号,品牌,美妆个护,M001,10,1,80,1,1,0.2,1.5,4.8,0.02,0.001,500000,0.05,1,0,,,\n"  # line 6
    "G1,重复,品牌,美妆个护,M001,10,1,80,1,1,0.2,30,4.8,0.02,0.001,500000,0.05,1,0,,,\n"  # line 7
    "B2,坏物二,品牌,美妆个护,M001,10,1,80,1,1,0.2,30,4.8,0.02,0.001,500000,0.05,1,maybe,ftp://x,,2026-13-01\n"
    # line 9: full-width digits
    "G3,好物三,品牌,美妆个护,M002,１２.５,true,80,1,1,0.2,３０,4.8,0.02,0.001,500000,0.05,false,0,,,\n"
)
BAD_CELLS = [
    (3, "price"),
    (3, "commission_rate"),
    (6, "sku"),
    (6, "active_streamers_30d"),
    (7, "sku"),
    (8, "counterfeit_flag"),
    (8, "image_url"),
    (8, "listed_at"),
]


async def test_a_file_with_bad_rows_writes_nothing_and_lists_every_bad_cell(db, tmp_path: Path) -> None:
    report = await import_products(db.sessionmaker, write_lines(tmp_path / "bad.csv", BAD_FILE))
    assert [(e.line, e.column) for e in report.errors] == BAD_CELLS
    assert (report.rows_total, report.rows_valid, report.written) == (7, 3, False)
    assert (report.inserted, report.updated) == (0, 0)
    for model in (Product, Merchant, Category, TierChange):
        assert await count(db, model) == 0
    by_cell = {(e.line, e.column): e for e in report.errors}
    assert by_cell[(3, "price")].value == "abc"
    assert (
        row_error_text(by_cell[(7, "sku")], "en")
        == 'line 7, column sku: duplicate sku: already on line 2 (got "G1")'
    )
    assert "第 2 行" in row_error_text(by_cell[(7, "sku")], "zh")
    assert len(error_list(report, "en").splitlines()) == len(BAD_CELLS)
    assert "Nothing written" in import_summary(report, "en")


async def test_skip_invalid_writes_the_good_rows(db, tmp_path: Path) -> None:
    report = await import_products(
        db.sessionmaker, write_lines(tmp_path / "bad.csv", BAD_FILE), skip_invalid=True
    )
    assert report.written and report.inserted == 3
    assert [(e.line, e.column) for e in report.errors] == BAD_CELLS
    stored = await products_by_sku(db)
    assert sorted(stored) == ["G1", "G2", "G3"]
    assert stored["G1"].title == "好物一"  # the first G1 wins; line 7 was the duplicate
    assert stored["G2"].title == "多行\n标题"
    assert stored["G3"].price == 12.5 and stored["G3"].active_streamers_30d == 30
    assert stored["G3"].brand_authorized == 1 and stored["G3"].factory_verified == 0
    assert await count(db, Merchant) == 2


async def test_dry_run_writes_nothing(db, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", SAMPLE)
    report = await import_products(db.sessionmaker, path, dry_run=True)
    assert (report.inserted, report.dry_run, report.written) == (3, True, False)
    for model in (Product, Merchant, Category, TierChange):
        assert await count(db, model) == 0
    await import_products(db.sessionmaker, path)
    worse = [product("YG-001", price_index="2.0"), *SAMPLE[1:]]
    report = await import_products(db.sessionmaker, write_csv(tmp_path / "w.csv", worse), dry_run=True)
    assert (report.updated, report.unchanged) == (1, 2)
    assert [(c.sku, c.old_tier, c.new_tier) for c in report.tier_changes] == [("YG-001", "L4", "L3")]
    assert "1 tiers would change" in import_summary(report, "en")
    assert (await products_by_sku(db))["YG-001"].tier == "L4"
    assert await count(db, TierChange) == 3  # only the first grades


async def test_reimport_upserts_and_records_the_tier_change(db, tmp_path: Path) -> None:
    await import_products(db.sessionmaker, write_csv(tmp_path / "a.csv", SAMPLE))
    before = (await products_by_sku(db))["YG-001"]
    # A price index of 2.0 empties the price dimension: L4 (about 80.7) falls to L3 (about 71.7).
    changed = [product("YG-001", price_index="2.0", title="云南白药 牙膏 新包装"), SAMPLE[1]]
    report = await import_products(db.sessionmaker, write_csv(tmp_path / "b.csv", changed))
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 1)
    stored = await products_by_sku(db)
    assert len(stored) == 3
    after = stored["YG-001"]
    assert after.id == before.id and after.title == "云南白药 牙膏 新包装" and after.tier == "L3"
    assert after.price_index == 2.0
    [change] = report.tier_changes
    assert (change.sku, change.product_id, change.merchant_id) == ("YG-001", before.id, before.merchant_id)
    assert (change.old_tier, change.new_tier, change.moved_dimension) == ("L4", "L3", "price")
    assert change.moved_by == pytest.approx(after.dim_price - before.dim_price, abs=0.01)
    assert change.moved_by is not None and change.moved_by < 0
    async with db.sessionmaker() as session:
        history = (
            await session.exec(
                select(TierChange).where(TierChange.product_id == before.id).order_by(col(TierChange.id))
            )
        ).all()
    assert [(h.old_tier, h.new_tier, h.moved_dimension) for h in history] == [
        (None, "L4", None),
        ("L4", "L3", "price"),
    ]
    assert history[1].old_score == pytest.approx(before.score)
    assert history[1].new_score == pytest.approx(after.score)
    assert history[1].alerted_at is None and history[1].reason == "import"


async def test_a_product_can_move_to_another_merchant_and_category(db) -> None:
    await import_product_rows(db.sessionmaker, [product("P1"), product("P2")])
    report = await import_product_rows(
        db.sessionmaker, [product("P1", merchant="M777", category="食品饮料"), product("P2")]
    )
    assert (report.updated, report.unchanged) == (1, 1)
    async with db.sessionmaker() as session:
        merchant = (await session.exec(select(Merchant).where(Merchant.code == "M777"))).one()
        category = (await session.exec(select(Category).where(Category.name == "食品饮料"))).one()
    stored = await products_by_sku(db)
    assert (stored["P1"].merchant_id, stored["P1"].category_id) == (merchant.id, category.id)
    assert stored["P2"].merchant_id != merchant.id
    assert merchant.name == "M777"


async def test_big_imports_grade_in_worker_processes(sqlite_db, monkeypatch) -> None:
    import storage.importer.validation
    import storage.importer.writer
    import storage.regrade

    graders: list[storage.regrade.Grader] = []

    class SpyGrader(storage.regrade.Grader):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            graders.append(self)

    monkeypatch.setattr(storage.regrade, "PROCESS_MIN_ROWS", 3)
    monkeypatch.setattr(storage.regrade.os, "cpu_count", lambda: 2)  # a pool even on a one-core runner
    monkeypatch.setattr(storage.importer.writer, "Grader", SpyGrader)
    # Three batches in flight across the pool.
    monkeypatch.setattr(storage.importer.validation, "BATCH_SIZE", 4)
    rows = [product(f"W{i}", brand_awareness=str(i * 9)) for i in range(12)]
    report = await import_product_rows(sqlite_db.sessionmaker, rows)
    assert report.inserted == 12
    assert [g.processes > 1 for g in graders] == [True]
    stored = await products_by_sku(sqlite_db)
    for row in rows:
        expected = grade(Indicators.from_mapping(row), default_policy())
        assert stored[row["sku"]].score == pytest.approx(expected.score)
        assert stored[row["sku"]].tier == expected.tier


async def test_a_counterfeit_flag_is_the_reason_for_its_tier_change(db) -> None:
    await import_product_rows(db.sessionmaker, [product("P1")])
    report = await import_product_rows(db.sessionmaker, [product("P1", counterfeit_flag="是")])
    [change] = report.tier_changes
    assert (change.old_tier, change.new_tier, change.moved_dimension, change.moved_by) == (
        "L4",
        "L0",
        "counterfeit",
        None,
    )


async def test_duplicate_sku_in_one_file(db, tmp_path: Path) -> None:
    rows = [product("A"), product("B"), product("A", title="again")]
    report = await import_products(db.sessionmaker, write_csv(tmp_path / "d.csv", rows))
    assert [(e.line, e.column, e.value) for e in report.errors] == [(4, "sku", "A")]
    assert "line 2" in row_error_text(report.errors[0], "en")
    assert report.errors[0].params == {"first": 2}
    assert await count(db, Product) == 0


def test_commission_and_rates_accept_percentages() -> None:
    rows = [
        product("A", commission_rate="25%", conversion_rate="3.2%", refund_rate=" 1.5 % "),
        product("B", commission_rate="２５％"),  # full-width
        product("C", commission_rate="25"),  # a bare 25 is not a rate
    ]
    validated = validate_rows("products", rows)
    assert [(e.line, e.column) for e in validated.errors] == [(4, "commission_rate")]
    parsed = spilled(validated)
    commission = PRODUCT_COLUMNS.index("commission_rate")
    assert [round(r[commission], 6) for r in parsed] == [0.25, 0.25]
    assert parsed[0][PRODUCT_COLUMNS.index("conversion_rate")] == pytest.approx(0.032)
    assert parsed[0][PRODUCT_COLUMNS.index("refund_rate")] == pytest.approx(0.015)


async def test_missing_required_column(db, tmp_path: Path) -> None:
    columns = [c for c in PRODUCT_COLUMNS if c != "gmv_30d"] + ["notes"]
    path = write_csv(tmp_path / "m.csv", [product("A", notes="x"), product("B")], columns=columns)
    report = await import_products(db.sessionmaker, path, skip_invalid=True)
    assert [(e.line, e.column) for e in report.errors] == [(1, "gmv_30d")]
    assert (
        row_error_text(report.errors[0], "en")
        == "line 1, column gmv_30d: required column is missing from the header"
    )
    assert report.rows_total == 2 and report.rows_valid == 0
    assert report.ignored_columns == ["notes"]
    assert "Warning: Ignored unknown columns: notes" in import_summary(report, "en").splitlines()
    assert "注意: 已忽略未知的列: notes" in import_summary(report, "zh").splitlines()
    assert await count(db, Product) == 0


def test_validation_rules_one_by_one() -> None:
    cases = {
        "price": ["0", "-1", "abc", "", "1_0", "nan", "inf"],
        "brand_awareness": ["101", "-0.1"],
        "shop_rating": ["5.1"],
        "refund_rate": ["1.2", "-5%"],
        "active_streamers_30d": ["2.5", "-1", "3000000000"],
        "brand_authorized": ["2", "maybe"],
        "image_url": ["javascript:alert(1)", "www.example.com/x.png", "https://"],
        "listed_at": ["2026-02-30", "24/11/2026", "yesterday"],
        "sku": ["x" * 65],
        "title": ["   "],
        "gmv_30d": ["-1"],
    }
    pairs = [(column, value) for column, values in cases.items() for value in values]
    rows = [{**product(f"S{i}"), column: value} for i, (column, value) in enumerate(pairs)]
    validated = validate_rows("products", rows)
    got = [(e.line, e.column) for e in validated.errors]
    expected = [(line, column) for line, (column, _) in enumerate(pairs, start=2)]
    assert got == expected
    assert validated.rows_valid == 0
    validated.close()


def test_lenient_forms_that_parse() -> None:
    row = product(
        "  ＳＫＵ-９  ",
        price="1,299.00",
        active_streamers_30d="３０",
        brand_authorized="TRUE",
        factory_verified="否",
        counterfeit_flag="0",
        listed_at="2026/11/24",
        tags=" 新品 ； 跨境;;新品 ",
        image_url="HTTPS://img.example.com/a.png",
    )
    validated = validate_rows("products", [row])
    assert validated.errors == []
    [parsed] = spilled(validated)
    get = dict(zip(PRODUCT_COLUMNS, parsed, strict=True))
    assert get["sku"] == "SKU-9"
    assert get["price"] == 1299.0 and get["active_streamers_30d"] == 30
    assert (get["brand_authorized"], get["factory_verified"]) == (1, 0)
    assert get["listed_at"] == date(2026, 11, 24)
    assert get["tags"] == "新品;跨境"


def test_row_error_describes_itself_in_both_languages() -> None:
    with validate_rows("products", [product("A"), product("B", price="abc")]) as validated:
        error = validated.errors[0]
    assert error == RowError(3, "price", "abc", Reason.POSITIVE)
    assert row_error_text(error, "zh") == '第 3 行 price 列: 必须是大于 0 的数字 (得到 "abc")'
    assert row_error_text(error, "en") == 'line 3, column price: must be a number greater than 0 (got "abc")'


def test_unreadable_files_get_a_clear_error(tmp_path: Path) -> None:
    cases = {
        "empty.csv": b"",
        "blank.csv": b"\n\n",
        "latin.csv": b"sku,title\n\x80\xff\xfe,x\n",
        "utf16.csv": "sku,title\n".encode("utf-16"),
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        "broken.xlsx": b"PK\x03\x04 not really a zip",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImportFileError) as info:
            validate_file("products", tmp_path / name)
        assert file_error_text(info.value, "zh") and file_error_text(info.value, "en"), name


async def test_in_memory_rows_count_lines_from_two(db) -> None:
    report = await import_product_rows(
        db.sessionmaker,
        [product("A"), product("B", price=0), product("C", price=19.5, active_streamers_30d=3)],
    )
    assert [(e.line, e.column) for e in report.errors] == [(3, "price")]
    assert not report.written
    report = await import_product_rows(
        db.sessionmaker, [product("A"), product("C", price=19.5, active_streamers_30d=3)]
    )
    assert report.written and report.inserted == 2


async def test_no_rows_is_an_empty_import(db) -> None:
    report = await import_product_rows(db.sessionmaker, [])
    assert (report.rows_total, report.inserted, report.errors, report.written) == (0, 0, [], True)


async def test_a_dry_run_of_a_bad_file_says_a_real_import_would_write_nothing(db, tmp_path: Path) -> None:
    report = await import_products(db.sessionmaker, write_lines(tmp_path / "bad.csv", BAD_FILE), dry_run=True)
    assert report.blocked and report.inserted == 3 and not report.written
    assert "would write nothing" in import_summary(report, "en")
    assert "不会写入任何数据" in import_summary(report, "zh")
    assert await count(db, Product) == 0


STREAMER_COLUMNS = ["telegram_id", "name", "category", "gmv_30d"]


async def test_streamers_import_and_upsert(db, tmp_path: Path) -> None:
    rows = [
        {"telegram_id": "1001", "name": "小美", "category": "美妆个护", "gmv_30d": "120000"},
        {"telegram_id": "1001", "name": "小美", "category": "食品饮料", "gmv_30d": "30000"},
        {"telegram_id": "9000000000", "name": "大号", "category": "美妆个护", "gmv_30d": "0"},
    ]
    path = write_csv(tmp_path / "s.csv", rows, columns=STREAMER_COLUMNS)
    dry = await import_streamers(db.sessionmaker, path, dry_run=True)
    assert (dry.inserted, dry.written) == (3, False)
    assert await count(db, StreamerSale) == 0
    report = await import_streamers(db.sessionmaker, path)
    assert (report.inserted, report.updated, report.unchanged, report.written) == (3, 0, 0, True)
    assert await count(db, Streamer) == 2 and await count(db, StreamerSale) == 3

    rows[0]["gmv_30d"] = "150000"
    rows[0]["name"] = rows[1]["name"] = "小美直播间"
    again = await import_file(
        db.sessionmaker, "streamers", write_csv(tmp_path / "s2.csv", rows, columns=STREAMER_COLUMNS)
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 2)
    async with db.sessionmaker() as session:
        streamer = await session.get(Streamer, 1001)
        sales = (await session.exec(select(StreamerSale).where(StreamerSale.telegram_id == 1001))).all()
    assert streamer is not None and streamer.name == "小美直播间"
    assert sorted(s.gmv_30d for s in sales) == [30000, 150000]
    assert await count(db, StreamerSale) == 3


async def test_streamer_rows_are_validated(db) -> None:
    rows: list[dict[str, Any]] = [
        {"telegram_id": 1, "name": "甲", "category": "美妆个护", "gmv_30d": 10},
        {"telegram_id": "-5", "name": "乙", "category": "美妆个护", "gmv_30d": "x"},
        {"telegram_id": 1, "name": "甲", "category": "美妆个护", "gmv_30d": 20},
        {"telegram_id": 2, "name": "丙", "category": "", "gmv_30d": 1},
    ]
    report = await import_streamer_rows(db.sessionmaker, rows)
    assert [(e.line, e.column) for e in report.errors] == [
        (3, "telegram_id"),
        (3, "gmv_30d"),
        (4, "category"),
        (5, "category"),
    ]
    assert "line 2" in row_error_text(report.errors[2], "en")
    assert await count(db, Streamer) == 0
