"""Small SQL helpers shared by the aggregate modules."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, column, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine
from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")

IN_CHUNK = 500  # ids per `IN (…)`: well under SQLite's and asyncpg's parameter limits


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`, for `IN (…)` lists and bulk statements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def on_postgresql(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT that knows `ON CONFLICT` on the session's database (SQLite or PostgreSQL)."""
    return (postgresql.insert if on_postgresql(session) else sqlite.insert)(table)


SqlType = TypeEngine[Any] | type[TypeEngine[Any]]


def unnest_rows(name: str, **columns: tuple[SqlType, Sequence[Any]]) -> TableValuedAlias:
    """Many rows as one PostgreSQL derived table, `unnest($1::T1[], $2::T2[], …) AS name(col, …)`,
    from one array per column (all of the same length).

    A statement that joins it reads the same SQL text whatever the number of rows: asyncpg prepares it
    once, and SQLAlchemy neither re-renders an `IN (…)` list nor processes parameters row by row as
    an executemany does. PostgreSQL only.
    """
    arrays = [
        bindparam(f"{name}_{key}", list(values), type_=postgresql.ARRAY(type_))
        for key, (type_, values) in columns.items()
    ]
    names = [column(key, type_) for key, (type_, _) in columns.items()]
    return func.unnest(*arrays).table_valued(*names).render_derived(name=name)


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
