"""One i18n: every locale file has the same keys and placeholders in zh and en; code uses existing keys."""

from __future__ import annotations

import ast
import string
import tomllib
from pathlib import Path

import pytest

from bot.i18n import LANGS, LOCALES, catalogue, t
from storage.importer import FileProblem, Reason

ROOT = Path(__file__).resolve().parent.parent
CODE = ("bot", "handlers", "jobs", "storage", "core")
LOCALE_FILES = sorted(LOCALES.glob("*.toml"))


def placeholders(template: str) -> set[str]:
    """The `{names}` a `str.format` template needs (raises on a stray brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def t_calls() -> list[tuple[str, int, ast.Call]]:
    """Every call of `t(...)` in the application code, with where it is."""
    found = []
    for package in CODE:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
                    found.append((str(path.relative_to(ROOT)), node.lineno, node))
    return found


@pytest.mark.parametrize("path", LOCALE_FILES, ids=lambda p: p.name)
def test_both_languages_have_the_same_keys_and_placeholders(path: Path) -> None:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    assert set(data) == set(LANGS), f"{path.name}: tables {sorted(data)}"
    zh, en = data["zh"], data["en"]
    assert sorted(zh.keys() - en.keys()) == [], f"{path.name}: only in zh"
    assert sorted(en.keys() - zh.keys()) == [], f"{path.name}: only in en"
    differ = {key: (placeholders(zh[key]), placeholders(en[key])) for key in zh}
    assert {key: pair for key, pair in differ.items() if pair[0] != pair[1]} == {}, path.name


def test_the_placeholder_check_can_fail() -> None:
    assert placeholders("第 {line} 行 {column} 列") == {"line", "column"}
    assert placeholders("line {line}") != placeholders("第 {lines} 行")
    with pytest.raises(ValueError):
        placeholders("a stray { brace")


def test_every_key_used_in_code_exists_with_the_placeholders_given() -> None:
    texts = catalogue()["zh"]
    calls = t_calls()
    assert len(calls) > 100, "the scan found the calls"
    missing, prefixes, mismatched = [], [], []
    for where, line, call in calls:
        key = call.args[0] if call.args else None
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if key.value not in texts:
                missing.append(f"{where}:{line} {key.value}")
                continue
            if any(k.arg is None for k in call.keywords):
                continue  # **params: checked by the tests of that feature
            given = {k.arg for k in call.keywords if k.arg is not None}
            if given != placeholders(texts[key.value]):
                mismatched.append(f"{where}:{line} {key.value}: {sorted(given)}")
        elif isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
            prefix = str(key.values[0].value)  # f"dim.{name}": some key must start with "dim."
            if not any(k.startswith(prefix) for k in texts):
                prefixes.append(f"{where}:{line} {prefix}…")
    assert missing == []
    assert prefixes == []
    assert mismatched == []


def test_every_import_reason_has_its_wording() -> None:
    for lang in LANGS:
        texts = catalogue()[lang]
        for reason in [*Reason, *FileProblem]:
            assert reason.value in texts, (lang, reason)
    assert t(Reason.RANGE.value, "en", lo=0, hi=5) == "must be a number from 0 to 5"
    assert t(FileProblem.CSV.value, "zh", line=3, detail="x") == "第 3 行无法按 CSV 读取: x"
