"""The words of an import: its summary, one line per bad cell, a file it cannot read, a regrade.

Storage returns plain values (storage/importer/report.py, storage/regrade.py); the wording is in
bot/locales/import.toml and bot/locales/admin.toml. The texts are plain: HTML-escape them to send.
"""

from __future__ import annotations

from bot.i18n import t
from storage.importer import FileProblem, ImportFileError, ImportReport, RowError
from storage.regrade import RegradeReport

__all__ = ["error_list", "file_error_text", "import_summary", "regrade_summary", "row_error_text"]

SHOWN_VALUE_MAX = 60  # a long bad value is cut in the report
_IN_BYTES = {FileProblem.TOO_LARGE, FileProblem.UNZIPPED_TOO_LARGE}  # their size and limit


def _megabytes(n: object) -> str:
    if not isinstance(n, int):
        return str(n)
    if n >= 1 << 20:
        return f"{n / (1 << 20):,.1f} MB"
    return f"{n / 1024:,.1f} KB" if n >= 1024 else f"{n} B"


def row_error_text(error: RowError, lang: str = "zh") -> str:
    """`line 3, column price: must be a number greater than 0 (got "abc")`."""
    value = error.value
    shown = value if len(value) <= SHOWN_VALUE_MAX else value[:SHOWN_VALUE_MAX] + "…"
    got = t("import.row_error_got", lang, value=shown) if value else ""
    reason = t(error.reason.value, lang, **error.params)
    return t("import.row_error", lang, line=error.line, column=error.column, reason=reason, got=got)


def file_error_text(error: ImportFileError, lang: str = "zh") -> str:
    """Why the file as a whole could not be read (or which limit it broke)."""
    params = dict(error.params)
    if error.problem in _IN_BYTES:
        params = {k: _megabytes(v) if k in ("size", "limit") else v for k, v in params.items()}
    elif "limit" in params and isinstance(params["limit"], float) and params["limit"].is_integer():
        params["limit"] = int(params["limit"])
    return t(error.problem.value, lang, **params)


def import_summary(report: ImportReport, lang: str = "zh") -> str:
    """A few lines for the admin: counts, what was (or would be) written, warnings."""
    bad = report.rows_invalid
    moved = len(report.tier_changes)
    graded = report.kind == "products"  # only products have tiers to report
    what = t(f"import.kind.{report.kind}", lang)
    lines = [t("import.head", lang, what=what, total=report.rows_total, valid=report.rows_valid, bad=bad)]
    counts = t(
        "import.counts", lang, inserted=report.inserted, updated=report.updated, unchanged=report.unchanged
    )
    if report.dry_run:
        tail = t("import.dry_run_tail", lang, moved=moved) if graded else ""
        lines.append(t("import.dry_run", lang, counts=counts, tail=tail))
        if report.blocked:
            lines.append(t("import.dry_run_blocked", lang))
    elif report.written:
        tail = t("import.written_tail", lang, moved=moved) if graded else ""
        lines.append(t("import.written", lang, counts=counts, tail=tail))
        if bad:
            lines.append(t("import.skipped", lang, bad=bad))
    else:
        lines.append(t("import.nothing_written", lang))
    if report.ignored_columns:
        names = ", ".join(report.ignored_columns)
        if report.ignored_total > len(report.ignored_columns):
            ignored = t("import.ignored_columns_more", lang, names=names, total=report.ignored_total)
        else:
            ignored = t("import.ignored_columns", lang, names=names)
        lines.append(t("import.warning", lang, warning=ignored))
    return "\n".join(lines)


def error_list(report: ImportReport, lang: str = "zh", limit: int | None = None) -> str:
    """One line per bad cell kept (the first 1,000, or `limit`), then how many more there are."""
    shown = report.errors if limit is None else report.errors[:limit]
    lines = [row_error_text(e, lang) for e in shown]
    more = report.errors_total - len(shown)
    if more > 0:
        lines.append(t("import.errors_more_one" if more == 1 else "import.errors_more", lang, more=more))
    return "\n".join(lines)


def regrade_summary(report: RegradeReport, lang: str = "zh") -> str:
    """One line: how many products were regraded and how many grades and tiers moved."""
    return t(
        "regrade.done",
        lang,
        version=report.policy_version,
        products=report.products,
        regraded=report.regraded,
        moved=len(report.tier_changes),
    )
