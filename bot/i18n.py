"""Reply texts in Simplified Chinese (default) and English.

Each feature keeps its own catalogue in `bot/locales/<feature>.toml` with a `[zh]` and an
`[en]` table; keys are `feature.name`. Values are `str.format` templates whose arguments are
already HTML-escaped by the caller where they carry user or catalog text.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path

LANGS = ("zh", "en")
LOCALES = Path(__file__).with_name("locales")


def lang_of(language_code: str | None) -> str:
    """Telegram's `language_code` -> our reply language: English for English users, else Chinese."""
    return "en" if (language_code or "").lower().startswith("en") else "zh"


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for path in sorted(LOCALES.glob("*.toml")):
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        for lang in LANGS:
            for key, value in data.get(lang, {}).items():
                if key in merged[lang]:
                    raise ValueError(f"{path.name}: text key {key!r} is defined twice")
                merged[lang][key] = value
    return merged


def t(key: str, lang: str = "zh", /, **kwargs: object) -> str:
    """The text for `key` in `lang` (falling back to Chinese), formatted with `kwargs`."""
    texts = catalogue()
    template = texts.get(lang, {}).get(key) or texts["zh"].get(key)
    if template is None:
        raise KeyError(f"no text for {key!r}")
    return template.format(**kwargs) if kwargs else template
