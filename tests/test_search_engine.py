"""The pure search engine (core.search, core.search.normalize) with plain values: no bot, no database."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.search.rank as search_module
from benchmarks.catalog import generated_catalog
from core.catalog import CatalogItem, tier_rank
from core.search import SearchFilters, SearchIndex, parse_query, search
from core.search.index import QueryMemo
from core.search.normalize import MAX_QUERY_CHARS, han_pinyin, normalize, split_pinyin, tokenize

EVAL = Path(__file__).resolve().parents[1] / "benchmarks" / "search_eval.jsonl"
_SCORES = {"L0": 30.0, "L1": 50.0, "L2": 60.0, "L3": 70.0, "L4": 80.0, "L5": 90.0}


def item(
    id: int, title: str, brand: str, category: str, tier: str = "L3", price: float = 50.0,
    commission: float = 0.1, counterfeit: bool = False,
) -> CatalogItem:  # fmt: skip
    return CatalogItem(
        id=id, sku=f"SKU-{id:04d}", title=title, brand=brand, category=category, merchant="测试店",
        price=price, commission_rate=commission, tier=tier, score=_SCORES[tier], counterfeit=counterfeit,
    )  # fmt: skip


CATALOG = [
    item(1, "云南白药 留兰香型 牙膏 180g", "云南白药", "美妆个护", "L3", 29.9, 0.12),
    item(2, "高露洁 劲白 牙膏 120g", "Colgate/高露洁", "美妆个护", "L4", 19.9, 0.22),
    item(3, "Dyson 戴森 V12 无线吸尘器", "Dyson/戴森", "数码家电", "L5", 4599, 0.08),
    item(4, "戴森 Supersonic 吹风机", "Dyson/戴森", "数码家电", "L4", 2999, 0.06),
    item(5, "小米 米家 G10 无线吸尘器", "小米/Xiaomi", "数码家电", "L4", 1299, 0.15),
    item(6, "珀莱雅 护肤 套装 礼盒", "珀莱雅", "美妆个护", "L3", 299, 0.3),
    item(7, "三只松鼠 经典 每日坚果", "三只松鼠", "食品饮料", "L2", 99, 0.2),
    item(8, "滇池 景点 门票 成人票", "云南文旅", "本地生活", "L5", 80, 0.1),
    item(9, "故宫 景点 门票 学生票", "北京文旅", "本地生活", "L1", 40, 0.1),
    item(10, "德芙 经典 巧克力 礼盒", "德芙", "食品饮料", "L5", 129, 0.18),
    item(11, "云南白药 冰柠薄荷 牙膏 120g", "云南白药", "美妆个护", "L0", 25.9, 0.3),
    item(12, "Dyson 戴森 V12 无线吸尘器 高仿", "Dyson/戴森", "数码家电", "L3", 899, 0.4, counterfeit=True),
    item(13, "Nike 耐克 Pegasus 41 跑鞋", "Nike/耐克", "服饰鞋包", "L3", 699, 0.25),
    item(14, "美的 IH 电饭煲 4L", "美的/Midea", "数码家电", "L4", 299, 0.21),
    item(15, "L'Oréal 欧莱雅 复颜 面霜 50ml", "L'Oréal/欧莱雅", "美妆个护", "L4", 329, 0.2),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(CATALOG)


def ids(result) -> list[int]:
    return [h.item.id for h in result.hits]


def top(index: SearchIndex, query: str, **kw) -> CatalogItem:
    result = search(index, query, **kw)
    assert result.hits, f"nothing found for {query!r}"
    return result.hits[0].item


# --------------------------------------------------------------------------- normalisation


def test_normalize_folds_width_case_script_and_accents() -> None:
    assert normalize("護膚") == "护肤"
    assert normalize("ＤＹＳＯＮ") == "dyson"
    assert normalize("L'Oréal") == "loreal"
    assert tokenize("dyson吸尘器") == ["dyson", "吸尘器"]
    assert tokenize("《三体》，全集！") == ["三体", "全集"]


def test_pinyin_helpers() -> None:
    assert han_pinyin("牙膏") == ("ya", "gao")
    assert han_pinyin("长城") == ("chang", "cheng")  # read in context
    assert split_pinyin("yagao") == ("ya", "gao")
    assert split_pinyin("xian") == ("xian",)  # fewest syllables
    assert split_pinyin("dyson") is None


# --------------------------------------------------------------------------- finding things


def test_traditional_characters(index: SearchIndex) -> None:
    assert top(index, "護膚").id == 6
    assert top(index, "雲南白藥 牙膏").id == 1


def test_full_width_and_mixed_case_latin(index: SearchIndex) -> None:
    result = search(index, "ＤＹＳＯＮ", limit=10)
    assert set(ids(result)) == {3, 4}  # the counterfeit one stays hidden
    assert top(index, "dYsOn").brand == "Dyson/戴森"


@pytest.mark.parametrize("query", ["yagao", "ya gao", "yg", "YaGao"])
def test_pinyin_and_initials(index: SearchIndex, query: str) -> None:
    result = search(index, query, limit=10)
    assert set(ids(result)[:2]) == {1, 2}  # both visible toothpastes, best tier first
    assert ids(result)[0] == 2


def test_pinyin_initials_of_brand_and_product(index: SearchIndex) -> None:
    assert top(index, "ynbyyg").id == 1
    assert top(index, "ynby yg").id == 1
    assert top(index, "yunnanbaiyao yagao").id == 1


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("dysen 吸尘器", 3),  # Latin typo
        ("云南白要牙膏", 1),  # homophone typo (药 → 要)
        ("云南白药 牙青", 1),  # wrong character
        ("云南药牙膏", 1),  # missing character
        ("高露结 牙膏", 2),
        ("pegasus", 13),
        ("nkie 跑鞋", 13),
        ("loreal 面霜", 15),
    ],
)
def test_typos(index: SearchIndex, query: str, want: int) -> None:
    assert top(index, query).id == want


def test_word_order_does_not_matter(index: SearchIndex) -> None:
    a = search(index, "云南白药 牙膏 留兰香型")
    b = search(index, "牙膏 留兰香型 云南白药")
    assert ids(a) == ids(b)
    assert [h.relevance for h in a.hits] == [h.relevance for h in b.hits]
    assert ids(a)[0] == 1


def test_mixed_latin_and_han_token(index: SearchIndex) -> None:
    assert top(index, "dyson吸尘器").id == 3
    assert top(index, "V12吸尘器").id == 3


def test_whole_title_ranks_first(index: SearchIndex) -> None:
    result = search(index, "云南白药 留兰香型 牙膏 180g")
    assert ids(result)[0] == 1
    assert result.hits[0].relevance == 100.0


def test_brand_and_category(index: SearchIndex) -> None:
    assert {h.item.brand for h in search(index, "戴森", limit=10).hits} == {"Dyson/戴森"}
    result = search(index, "数码家电", limit=10)
    assert {h.item.category for h in result.hits} == {"数码家电"}
    assert result.total == 4  # 3, 4, 5, 14 (12 is counterfeit)


def test_sku_finds_its_item(index: SearchIndex) -> None:
    assert ids(search(index, "SKU-0014")) == [14]
    assert ids(search(index, "ｓｋｕ０００７")) == [7]


# --------------------------------------------------------------------------- homophones


def test_a_character_match_outranks_a_homophone(index: SearchIndex) -> None:
    # 经典 and 景点 are both jingdian; the tiers are set against the right answer each time
    jingdian_classic = {7, 10}  # L2, L5
    jingdian_sight = {8, 9}  # L5, L1
    cases = (("经典", jingdian_classic, jingdian_sight), ("景点", jingdian_sight, jingdian_classic))
    for query, right, wrong in cases:
        found = ids(search(index, query, limit=10))
        assert set(found[:2]) == right, query
        assert all(i not in right for i in found[2:])
        assert set(found[2:]) <= wrong
    assert ids(search(index, "经典"))[0] == 10  # then tier
    assert ids(search(index, "景点"))[0] == 8


def test_typed_pinyin_finds_both_homophones(index: SearchIndex) -> None:
    assert set(ids(search(index, "jingdian", limit=10))) == {7, 8, 9, 10}


# --------------------------------------------------------------------------- filters


def test_parse_query_filters() -> None:
    text, f = parse_query("牙膏 L4+ <100 佣金20%+")
    assert text == "牙膏"
    assert f == SearchFilters(min_tier="L4", price_max=100.0, min_commission=0.2)
    assert parse_query("吸尘器 L5")[1] == SearchFilters(tier="L5")
    assert parse_query("面霜 100-300") == ("面霜", SearchFilters(price_min=100.0, price_max=300.0))
    assert parse_query("ｌ３＋ 面霜")[1].min_tier == "L3"
    assert parse_query("童装 3-6岁") == ("童装 3-6岁", SearchFilters())  # an age, not a price
    assert not parse_query("100% 纯棉")[1]  # a spec, not a commission


def test_filters_apply(index: SearchIndex) -> None:
    assert ids(search(index, "吸尘器 L5", limit=10)) == [3]
    assert set(ids(search(index, "吸尘器 L4+", limit=10))) == {3, 5}
    assert ids(search(index, "牙膏 <25", limit=10)) == [2]
    assert set(ids(search(index, "戴森 2000-5000", limit=10))) == {3, 4}
    assert ids(search(index, "牙膏 佣金20%+", limit=10)) == [2]


def test_filters_alone_browse_by_tier(index: SearchIndex) -> None:
    result = search(index, "L4+", limit=20)
    assert result.text == ""
    found = [h.item for h in result.hits]
    assert {it.id for it in found} == {2, 3, 4, 5, 8, 10, 14, 15}
    assert [tier_rank(it.tier) for it in found] == sorted((tier_rank(it.tier) for it in found), reverse=True)
    assert search(index, "<50", limit=20).total == 3  # 1, 2, 9 (11 is L0)


# --------------------------------------------------------------------------- hidden goods


def test_l0_and_counterfeit_are_hidden_unless_asked(index: SearchIndex) -> None:
    assert 11 not in ids(search(index, "云南白药 牙膏", limit=10))
    assert 11 in ids(search(index, "云南白药 牙膏", limit=10, include_hidden=True))
    assert search(index, "高仿").hits == []
    assert ids(search(index, "高仿", include_hidden=True)) == [12]
    assert search(index, "SKU-0012").hits == []  # not even by sku
    assert all(not h.item.counterfeit and h.item.tier != "L0" for h in search(index, "L0+", limit=50).hits)


# --------------------------------------------------------------------------- odd input


def test_nothing_found_suggests_brands_or_categories(index: SearchIndex) -> None:
    result = search(index, "戴生")  # no such product; sounds like 戴森
    assert result.hits == [] and result.total == 0
    assert "Dyson/戴森" in result.suggestions
    assert search(index, "qqqqzzzz").suggestions  # never a dead end


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query(index: SearchIndex, query: str) -> None:
    result = search(index, query)
    assert result.hits == [] and result.total == 0 and result.suggestions == []


@pytest.mark.parametrize("query", ["<b>&", "<script>alert(1)</script>", "'; DROP TABLE products; --", "%%%"])
def test_markup_and_symbols(index: SearchIndex, query: str) -> None:
    result = search(index, query)
    assert result.query == query
    assert isinstance(result.hits, list)


def test_very_long_query_is_cut(index: SearchIndex) -> None:
    query = "牙膏" + "啊" * 5000
    result = search(index, query)
    assert len(result.text) <= MAX_QUERY_CHARS
    assert result.query == query
    assert search(index, "x" * 5000).hits == []


def test_emoji(index: SearchIndex) -> None:
    assert top(index, "🦷牙膏😀").id in {1, 2}
    assert search(index, "😀🔥").hits == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_is_safe(index: SearchIndex, query: str) -> None:
    result = search(index, query, limit=5)
    assert len(result.hits) <= 5 and result.total >= len(result.hits)
    assert all(0.0 <= h.relevance <= 100.0 for h in result.hits)
    assert all(not h.item.counterfeit and h.item.tier != "L0" for h in result.hits)


# --------------------------------------------------------------------------- ranking and paging


def test_ranking_is_relevance_then_tier(index: SearchIndex) -> None:
    for query in ("吸尘器", "牙膏", "经典", "戴森 吸尘器", "美妆个护"):
        hits = search(index, query, limit=20).hits
        keys = [(round(h.relevance), tier_rank(h.item.tier)) for h in hits]
        assert keys == sorted(keys, reverse=True), query


def test_paging_is_consistent(index: SearchIndex) -> None:
    for query in ("L1+", "美妆个护", "数码家电", "jingdian"):
        everything = search(index, query, limit=100)
        pages, offset = [], 0
        while True:
            page = search(index, query, limit=2, offset=offset)
            assert page.total == everything.total
            if not page.hits:
                break
            pages.extend(ids(page))
            offset += 2
        assert pages == ids(everything)
        assert len(pages) == len(set(pages)) == everything.total
    assert search(index, "牙膏", offset=50).hits == []


# --------------------------------------------------------------------------- the index


def test_index_is_immutable(index: SearchIndex) -> None:
    before = [(h.item.id, h.relevance) for h in search(index, "吸尘器", limit=10).hits]
    with pytest.raises(AttributeError):
        index.items = ()  # type: ignore[misc]
    with pytest.raises(ValueError):
        index.price[0] = 1.0  # the arrays are read-only
    other = SearchIndex.build([item(99, "全新 吸尘器", "新牌", "数码家电", "L5")])
    assert ids(search(other, "吸尘器")) == [99]
    assert [(h.item.id, h.relevance) for h in search(index, "吸尘器", limit=10).hits] == before


def test_empty_index() -> None:
    empty = SearchIndex.build([])
    assert len(empty) == 0
    for query in ("牙膏", "L4+", "", "yg"):
        result = search(empty, query)
        assert result.hits == [] and result.total == 0


def test_skipping_hopeless_items_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine never scores items that cannot reach the cutoff; that must not change any result."""
    items = list(generated_catalog(3000, seed=5))
    big = SearchIndex.build(items)
    rng = random.Random(3)
    queries = []
    for it in rng.sample(items, 60):
        words = it.title.split()
        rng.shuffle(words)
        queries.append(" ".join(words[: rng.randint(1, len(words))]))
        queries.append(" ".join(words[:2]) + rng.choice(["", " L4+", " <100"]))
    results = {}
    for prune in (True, False):
        monkeypatch.setattr(search_module, "_PRUNE", prune)
        results[prune] = [
            (r.total, [(h.item.id, h.relevance) for h in r.hits])
            for r in (search(big, q, limit=10) for q in queries)
        ]
    assert results[True] == results[False]


def test_suggestions_never_name_a_brand_whose_goods_are_all_hidden() -> None:
    catalog = [
        item(1, "高露洁 劲白 牙膏 120g", "Colgate/高露洁", "美妆个护", "L4"),
        item(2, "仿冒 大牌 香水 50ml", "Chanelle/香奈儿", "美妆个护", "L4", counterfeit=True),
        item(3, "香奈儿 同款 香水 100ml", "Chanelle/香奈儿", "美妆个护", "L0"),
    ]
    index = SearchIndex.build(catalog)
    result = search(index, "chanelle xiangnaier zzz")
    assert not result.hits
    assert all("香奈儿" not in name for name in result.suggestions)


def test_remembered_answers_are_the_answers() -> None:
    """The index's memo of recent answers changes nothing but the time: every page of every query,
    asked twice (the second time from the memo), equals the answer computed afresh."""
    big = SearchIndex.build(generated_catalog(3000, seed=5))
    queries = [
        *(json.loads(line)["query"] for line in EVAL.read_text(encoding="utf-8").splitlines()[:120]),
        "牙膏 L4+",
        "<100",
        "dyson 吹风机",
        "没有这种东西xyz",
    ]
    for query in queries:
        for hidden in (False, True):
            for offset, limit in ((0, 5), (5, 5), (45, 5), (48, 5), (60, 5), (0, 1)):
                fresh = search(big, query, limit=limit, offset=offset, include_hidden=hidden, remember=False)
                for _ in range(2):
                    assert search(big, query, limit=limit, offset=offset, include_hidden=hidden) == fresh
    assert 0 < len(big.memo) <= big.memo.size
    refreshed = SearchIndex.build(generated_catalog(3000, seed=5))
    assert len(refreshed.memo) == 0  # a new index starts with nothing remembered


def test_the_memo_forgets_the_least_recently_used_first() -> None:
    memo = QueryMemo(size=2)
    memo.put("a", 1)
    memo.put("b", 2)
    assert memo.get("a") == 1  # a is now the most recent
    memo.put("c", 3)
    assert memo.get("b") is None and memo.get("a") == 1 and memo.get("c") == 3
