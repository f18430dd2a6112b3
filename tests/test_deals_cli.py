"""`python -m bot match SKU --json`: the shape PRODUCT.md gives, discoverable streamers only, bands only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from storage.engine import open_database
from storage.migrate import upgrade_sync
from tests.test_digest_helpers import platform_with_peers, put_sales, put_user


def _database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, findable: bool) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    upgrade_sync(url)

    async def fill() -> None:
        async with open_database(url) as (_engine, sessionmaker):
            async with sessionmaker() as session:
                await platform_with_peers(session)
                user = await put_user(session, 4001, discoverable=findable)
                user.name = "小美直播间"
                await put_sales(session, 4001, {"美妆个护": 123_456})
                await put_user(session, 4002)  # never agreed to be found
                await put_sales(session, 4002, {"美妆个护": 99_000})
                await session.commit()

    asyncio.run(fill())


def test_match_json_lists_who_agreed_with_a_band(tmp_path, monkeypatch, capsys) -> None:
    _database(tmp_path, monkeypatch, findable=True)
    assert main(["match", "FOOD-L4-A", "--json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "sku": "FOOD-L4-A",
        "streamers": [
            {"telegram_id": 4001, "name": "小美直播间", "gap_category": "食品饮料", "gmv_band": "50k-200k"}
        ],
    }
    assert "123456" not in out and "123,456" not in out


def test_match_json_is_empty_when_nobody_agreed(tmp_path, monkeypatch, capsys) -> None:
    _database(tmp_path, monkeypatch, findable=False)
    assert main(["match", "FOOD-L4-A", "--json", "--limit", "5"]) == 0
    assert json.loads(capsys.readouterr().out) == {"sku": "FOOD-L4-A", "streamers": []}
    assert main(["match", "NOPE", "--json"]) == 1
    assert "no product" in capsys.readouterr().err
