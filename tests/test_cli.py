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
    assert len(data["indicators"]) == 11 and data["indicators"]["refund_rate"]["value"] == pytest.approx(0.061)
    assert set(data["gates"]) == {"counterfeit", "factory_verified", "brand_authorized"}
    assert data["next_tier"]["tier"] > data["tier"] and data["next_tier"]["levers"]


def test_grade_text_is_readable(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", "SKU-9"]) == 0
    out = capsys.readouterr().out
    assert "云南白药 牙膏 180g" in out and "退款率: 6.1%" in out and "<b>" not in out


def test_unknown_sku_is_a_clear_error_with_exit_code_1(database: str, capsys: pytest.CaptureFixture[str]) -> None:
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
