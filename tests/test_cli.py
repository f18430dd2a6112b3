"""The command line, run in-process as a user would call it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from storage.engine import open_database
from storage.migrate import upgrade_sync
from tests.factories import MIDDLING, add_product
from tests.processes import clear_settings


@pytest.fixture(autouse=True)
def clean_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test sets: none from the developer's shell, no .env (a fresh folder)."""
    clear_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    upgrade_sync(url)

    async def fill() -> None:
        async with open_database(url) as (_engine, sessionmaker):
            async with sessionmaker() as session:
                await add_product(session, "SKU-9", title="云南白药 牙膏 180g", **MIDDLING)
                await session.commit()

    asyncio.run(fill())
    return url


def test_grade_json_has_the_documented_shape(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "SKU-9", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"sku", "tier", "score", "dimensions", "indicators", "gates", "badges", "next_tier"} <= set(data)
    assert data["sku"] == "SKU-9" and data["tier"] in {"L0", "L1", "L2", "L3", "L4", "L5"}
    assert set(data["dimensions"]) == {"brand", "price", "distribution", "service", "sales"}
    assert len(data["indicators"]) == 11 and data["indicators"]["refund_rate"]["value"] == pytest.approx(
        0.061
    )
    assert set(data["gates"]) == {"counterfeit", "factory_verified", "brand_authorized"}
    assert data["next_tier"]["tier"] > data["tier"] and data["next_tier"]["levers"]


def test_grade_text_is_readable(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "SKU-9"]) == 0
    out = capsys.readouterr().out
    assert "云南白药 牙膏 180g" in out and "退款率: 6.1%" in out and "<b>" not in out


def test_unknown_sku_is_a_clear_error_with_exit_code_1(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["grade", "NOPE"]) == 1
    assert "NOPE" in capsys.readouterr().err


def test_db_upgrade_is_idempotent(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_run_without_a_token_says_what_to_do(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    assert main(["run"]) == 1
    assert "BOT_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("token", ["123456:replace-me", "not-a-token", "12345:short"])
def test_run_with_a_bad_token_says_so(tmp_path: Path, monkeypatch, capsys, token: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", token)
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "BOT_TOKEN" in err and token not in err.replace("BOT_TOKEN", "")  # never echo a secret


def test_bad_settings_are_reported_by_name(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Mars/Olympus")
    assert main(["db", "upgrade"]) == 1
    assert "DEFAULT_TIMEZONE" in capsys.readouterr().err


def test_import_reports_bad_rows_by_line_and_column_and_writes_nothing(
    database: str, tmp_path: Path, capsys
) -> None:
    from bot.demo_data import demo_products

    rows = demo_products(n=3200)[:3]
    header = list(rows[0])
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(str(row[c]).replace(",", " ") for c in header))
    bad = lines[2].split(",")
    bad[header.index("price")] = "abc"
    lines[2] = ",".join(bad)
    path = tmp_path / "products.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert main(["import", "products", str(path), "--dry-run"]) == 1, "a dry run with bad rows fails too"
    capsys.readouterr()
    assert main(["import", "products", str(path)]) == 1
    captured = capsys.readouterr()
    assert "line 3" in captured.err and "price" in captured.err
    assert main(["grade", rows[0]["sku"]]) == 1, "nothing was written"
    capsys.readouterr()

    assert main(["import", "products", str(path), "--skip-invalid"]) == 0
    assert main(["grade", rows[0]["sku"], "--json"]) == 0


def test_import_of_a_file_that_is_not_a_table_is_a_clear_error(database: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "products.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really an old excel file")
    assert main(["import", "products", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
