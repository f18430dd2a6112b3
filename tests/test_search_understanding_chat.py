"""Issue 11 through the real dispatcher and the CLI: names resolve through the search engine in
/grade, /watch and inline mode; English readers see English category names; operators import
synonyms."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.cli import main
from storage.engine import open_database
from storage.migrate import upgrade_sync
from storage.tables import SearchSynonym, Watch
from tests.factories import MIDDLING, add_product, import_rows, product_row
from tests.harness import plain, texts
from tests.test_inline import answer_of

STREAMER = 3101


@pytest.fixture
async def catalog(services):
    await import_rows(
        services,
        [
            product_row("NFSQ-00005", "农夫山泉 饮用天然水 550ml", brand="农夫山泉", category="食品饮料"),
            product_row("CL-1", "高露洁 劲白 牙膏 120g", brand="Colgate/高露洁", category="美妆个护"),
            product_row("DY-1", "戴森 吹风机 HD15", brand="Dyson/戴森", category="数码家电"),
            product_row("SK-1", "SK-II 神仙水 精华 230ml", brand="SK-II", category="美妆个护"),
        ],
    )
    return services


async def test_grade_finds_a_sku_in_any_letter_case(chat, catalog) -> None:
    reply = "\n".join(texts(await chat.message(STREAMER, "/grade nfsq-00005")))
    assert "NFSQ-00005" in reply and "农夫山泉" in reply


async def test_grade_with_a_name_that_is_no_sku_searches(chat, catalog) -> None:
    reply = plain(texts(await chat.message(STREAMER, "/grade 牙膏"))[0])
    assert "🔎 牙膏" in reply and "CL-1" in reply


async def test_grade_with_nothing_to_find_says_no_such_sku(chat, catalog) -> None:
    reply = plain(texts(await chat.message(STREAMER, "/grade 量子计算机"))[0])
    assert "量子计算机" in reply and "CL-1" not in reply


@pytest.mark.parametrize(
    ("typed", "brand"), [("高露洁", "Colgate/高露洁"), ("dyson", "Dyson/戴森"), ("sk2", "SK-II")]
)
async def test_watch_resolves_brands_and_aliases_like_search(chat, catalog, typed: str, brand: str) -> None:
    reply = plain(texts(await chat.message(STREAMER, f"/watch {typed}"))[0])
    assert brand in reply
    async with catalog.sessionmaker() as session:
        watches = (await session.exec(select(Watch).where(Watch.telegram_id == STREAMER))).all()
    assert [(w.kind, w.target) for w in watches] == [("brand", brand)]


async def test_watch_with_a_product_name_lists_the_skus_it_could_mean(chat, catalog) -> None:
    reply = plain(texts(await chat.message(STREAMER, "/watch 天然水"))[0])
    assert "NFSQ-00005" in reply and "/watch" in reply


async def test_english_reader_sees_english_category_suggestions(chat, catalog) -> None:
    reply = plain(texts(await chat.message(STREAMER, "zzqqxx 不存在", lang="en"))[0])
    assert "Beauty & personal care" in reply and "美妆个护" not in reply


async def test_english_words_for_goods_find_them_in_chat(chat, catalog) -> None:
    reply = plain(texts(await chat.message(STREAMER, "toothpaste", lang="en"))[0])
    assert "CL-1" in reply and "Dyson" not in reply


async def test_inline_nothing_found_suggests_what_to_try(chat, catalog) -> None:
    answer = answer_of(await chat.inline(STREAMER, "量子计算机", lang="en"))
    assert [r.id for r in answer.results] == ["nothing"]
    article: Any = answer.results[0]
    assert article.description.startswith("Try: ")
    assert "Nothing found" in article.input_message_content.message_text
    assert answer.button is not None


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'syn.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    upgrade_sync(url)

    async def fill() -> None:
        async with open_database(url) as (_engine, sessionmaker):
            async with sessionmaker() as session:
                await add_product(session, "SKU-9", title="云南白药 牙膏 180g", **MIDDLING)
                await session.commit()

    asyncio.run(fill())
    return url


def stored(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        async with open_database(url) as (_engine, sessionmaker):
            async with sessionmaker() as session:
                rows = (await session.exec(select(SearchSynonym))).all()
                return [(r.term, r.same_as) for r in rows]

    return asyncio.run(read())


def test_synonyms_import_is_used_by_search_and_idempotent(database: str, tmp_path: Path, capsys) -> None:
    assert main(["search", "月光宝盒", "--json"]) == 0
    assert '"results": []' in capsys.readouterr().out
    csv = tmp_path / "syn.csv"
    csv.write_text("term,same_as\n月光宝盒,云南白药 牙膏\n", encoding="utf-8")
    assert main(["synonyms", "import", str(csv)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main(["synonyms", "import", str(csv)]) == 0
    assert "0 added" in capsys.readouterr().out
    assert stored(database) == [("月光宝盒", "云南白药 牙膏")]
    assert main(["search", "月光宝盒", "--json"]) == 0
    assert "SKU-9" in capsys.readouterr().out


def test_synonyms_import_with_a_bad_row_writes_nothing(database: str, tmp_path: Path, capsys) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("口红,唇膏\n只有一列\n", encoding="gb18030")
    assert main(["synonyms", "import", str(csv)]) == 1
    err = capsys.readouterr().err
    assert "line 2" in err and "nothing imported" in err
    assert stored(database) == []
