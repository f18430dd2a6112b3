"""The async engine and session factory; SQLite gets WAL, a busy timeout and foreign keys."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

SQLITE_BUSY_TIMEOUT_MS = 5000
# A pooled PostgreSQL connection idle longer than this is pinged before use. Pinging every checkout
# (pool_pre_ping) costs three round trips (BEGIN, SELECT, ROLLBACK) per checkout: under load that was
# a fifth of the bot's CPU. A busy connection that a restart broke fails its first statement instead;
# that invalidates the whole pool, and the per-update middleware retries its first read once.
IDLE_PING_SECONDS = 5.0
# All kept open, none overflowing: under load an overflow connection is closed on check-in and
# reopened for the next update (a TCP and TLS handshake each time).
POOL_SIZE = 20


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Under aiosqlite the DB-API connection is an adapter, not sqlite3.Connection: do not type-check it.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and give them their async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs) -> AsyncEngine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    engine = create_async_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection on checkout only when it has sat idle for IDLE_PING_SECONDS; one that
    fails is replaced by a fresh connection (the pool retries on DisconnectionError)."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            sync_engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - whatever broke it, a fresh connection is the answer
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def open_database(url: str) -> AsyncIterator[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]]:
    """An engine and its sessionmaker for the length of a block (CLI commands, tests)."""
    engine = make_engine(url)
    try:
        yield engine, make_sessionmaker(engine)
    finally:
        await engine.dispose()
