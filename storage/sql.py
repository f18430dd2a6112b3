"""Small SQL helpers shared by the aggregate modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")

IN_CHUNK = 500  # ids per `IN (…)`: well under SQLite's and asyncpg's parameter limits


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`, for `IN (…)` lists and bulk statements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that knows `ON CONFLICT` on the session's database (SQLite or PostgreSQL)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def table_of(model: Any) -> Table:
    """The Core table under a SQLModel table class (for INSERT … ON CONFLICT)."""
    return model.__table__


async def rows_written(statement: Any, *, session: AsyncSession) -> int:
    """Run an INSERT/UPDATE; how many rows it wrote (0 when ON CONFLICT DO NOTHING skipped them)."""
    result: Any = await session.exec(statement)
    return max(result.rowcount or 0, 0)


def aware(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands them back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
