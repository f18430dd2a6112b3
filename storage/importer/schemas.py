"""The columns of each import kind, their parsers, and the key that must be unique within a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from core.grading import INDICATORS
from storage.importer import cells
from storage.importer.limits import ImportLimits
from storage.importer.report import ImportKind, Reason

__all__ = [
    "PRODUCTS",
    "PRODUCT_AT",
    "PRODUCT_DATA",
    "SCHEMAS",
    "STREAMERS",
    "Column",
    "Schema",
    "schema_for",
]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    parse: Callable[[Any], Any]
    required: bool = True


@dataclass(frozen=True, slots=True)
class Schema:
    kind: ImportKind
    columns: tuple[Column, ...]
    key: tuple[int, ...]  # positions (in `columns`) of the key that must be unique within a file
    duplicate: Reason
    duplicate_column: str


def _product_columns(limits: ImportLimits) -> tuple[Column, ...]:
    return (
        Column("sku", cells.text(64, fold=True)),
        Column("title", cells.text(300)),
        Column("brand", cells.text(100)),
        Column("category", cells.text(64, fold=True)),
        Column("merchant", cells.text(64, fold=True)),
        Column("price", cells.positive_up_to(limits.max_price)),
        Column("brand_authorized", cells.flag),
        Column("brand_awareness", cells.between(0, 100)),
        Column("price_index", cells.positive),
        Column("lowest_price_ratio", cells.positive),
        Column("commission_rate", cells.rate),
        Column("active_streamers_30d", cells.count),
        Column("shop_rating", cells.between(0, 5)),
        Column("refund_rate", cells.rate),
        Column("dispute_rate", cells.rate),
        Column("gmv_30d", cells.non_negative_up_to(limits.max_gmv)),
        Column("conversion_rate", cells.rate),
        Column("factory_verified", cells.flag),
        Column("counterfeit_flag", cells.flag),
        Column("image_url", cells.url, required=False),
        Column("tags", cells.tags, required=False),
        Column("listed_at", cells.day, required=False),
    )


@cache
def schema_for(kind: ImportKind, limits: ImportLimits) -> Schema:
    """The columns of `kind`, with the amounts bounded by `limits`."""
    if kind == "products":
        return Schema("products", _product_columns(limits), (0,), Reason.DUPLICATE_SKU, "sku")
    return Schema(
        "streamers",
        (
            Column("telegram_id", cells.telegram_id),
            Column("name", cells.text(200)),
            Column("category", cells.text(64, fold=True)),
            Column("gmv_30d", cells.non_negative_up_to(limits.max_gmv)),
        ),
        (0, 2),
        Reason.DUPLICATE_SALE,
        "category",
    )


PRODUCTS = schema_for("products", ImportLimits())
STREAMERS = schema_for("streamers", ImportLimits())
SCHEMAS: dict[str, Schema] = {"products": PRODUCTS, "streamers": STREAMERS}
# Positions in a parsed product row (after the leading line number).
PRODUCT_AT = {c.name: i + 1 for i, c in enumerate(PRODUCTS.columns)}
# The stored product columns an import sets, in order, besides sku and the grade.
PRODUCT_DATA = (
    "title",
    "brand",
    "category_id",
    "merchant_id",
    "price",
    *INDICATORS,
    "factory_verified",
    "counterfeit_flag",
    "image_url",
    "tags",
    "listed_at",
)
