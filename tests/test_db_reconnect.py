"""After PostgreSQL restarts, the bot carries on: pooled connections are pinged only when idle
(storage/engine.py), and the per-update middleware reads the user again on a fresh connection when
a busy one turns out dead (handlers/middlewares.py)."""

from __future__ import annotations

import logging

import asyncpg
import pytest
from aiogram.types import User as TgUser
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import storage.engine
from bot.settings import Settings
from handlers.middlewares import DbSessionMiddleware
from storage.users import FactsReader
from tests.conftest import Database, _asyncpg_dsn

pytestmark = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


async def _restart(db: Database) -> int:
    """What a restart does to the pool: every server-side connection of this database is terminated."""
    name = make_url(db.url).database
    conn = await asyncpg.connect(_asyncpg_dsn(db.url, "postgres"))
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await conn.close()
    return len(rows)


async def _backend_pid(db: Database) -> int:
    async with db.sessionmaker() as session:
        return await session.scalar(select(func.pg_backend_pid()))


async def test_an_update_after_a_restart_is_answered(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=db.url, _env_file=None)  # type: ignore[call-arg]
    middleware = DbSessionMiddleware()
    seen: list[tuple[int, int]] = []

    async def handler(_event, data):
        pid = await data["session"].scalar(select(func.pg_backend_pid()))
        seen.append((data["viewer"].telegram_id, pid))
        return "handled"

    def data() -> dict:
        return {
            "sessionmaker": db.sessionmaker,
            "settings": settings,
            "event_from_user": TgUser(id=4242, is_bot=False, first_name="A", language_code="en"),
        }

    assert await middleware(handler, object(), data()) == "handled"  # the pool now holds a live connection
    assert await _restart(db) >= 1
    with caplog.at_level(logging.WARNING, logger="handlers.middlewares"):
        assert await middleware(handler, object(), data()) == "handled"
    assert "database connection lost" in caplog.text  # the busy connection was dead: read again
    assert [viewer for viewer, _ in seen] == [4242, 4242]
    assert seen[0][1] != seen[1][1]  # the handler ran on a new server connection


async def test_after_a_restart_the_direct_user_read_falls_back_then_resumes(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """With the bot's FactsReader (storage.users): its dead connections send the first update after a
    restart through the session, whose retry replaces the pool's before the handler runs; once that
    works the reader reads directly again, on a new connection."""
    settings = Settings(database_url=db.url, _env_file=None)  # type: ignore[call-arg]
    connects: list[int] = []

    async def connect():
        connects.append(1)
        return await asyncpg.connect(_asyncpg_dsn(db.url))

    reader = FactsReader(connect, size=2)
    middleware = DbSessionMiddleware()
    seen: list[int] = []

    async def handler(_event, data):
        seen.append(await data["session"].scalar(select(func.pg_backend_pid())))
        return "handled"

    def data() -> dict:
        return {
            "sessionmaker": db.sessionmaker,
            "settings": settings,
            "facts_reader": reader,
            "event_from_user": TgUser(id=4242, is_bot=False, first_name="A", language_code="en"),
        }

    try:
        assert await middleware(handler, object(), data()) == "handled"
        assert len(connects) == 1 and not reader.suspended
        assert await _restart(db) >= 2  # the reader's connection and the pool's
        with caplog.at_level(logging.WARNING, logger="handlers.middlewares"):
            assert await middleware(handler, object(), data()) == "handled"
        assert "reading the user directly failed" in caplog.text
        assert "database connection lost" in caplog.text
        assert seen[0] != seen[1] and not reader.suspended
        assert await middleware(handler, object(), data()) == "handled"
        assert len(connects) == 2  # reading directly again, on a fresh connection
    finally:
        await reader.close()


async def test_an_idle_connection_is_pinged_and_replaced(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _backend_pid(db)
    await _restart(db)
    monkeypatch.setattr(storage.engine, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle
    assert await _backend_pid(db) != first  # the ping found it dead; no statement failed


async def test_a_busy_connection_is_not_pinged(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the saving: a connection used a moment ago goes out unpinged, so a restart
    shows as one failed statement, which invalidates the pool; the next checkout is fresh."""
    await _backend_pid(db)
    await _restart(db)
    monkeypatch.setattr(storage.engine, "IDLE_PING_SECONDS", 3600.0)
    with pytest.raises(DBAPIError) as failed:
        await _backend_pid(db)
    assert failed.value.connection_invalidated
    assert await _backend_pid(db) > 0
