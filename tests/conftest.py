"""Shared fixtures: every test gets its own database (SQLite, and PostgreSQL for storage tests)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import make_engine, make_sessionmaker
from storage.migrate import upgrade_sync
from tests.redisutil import shared_redis  # noqa: F401 - a fixture for every test module

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Database:
    url: str
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def _pg_admin_url() -> tuple[str, bool]:
    """The PostgreSQL server to test against, and whether it is required (CI sets TEST_POSTGRES_URL)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    return (url, True) if url else (DEFAULT_PG, False)


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url)
    if database:
        parsed = parsed.set(database=database)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tmpl") / "template.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> str | None:
    """Create a migrated template database once; each test clones it. None when PostgreSQL is absent."""
    import asyncio

    url, required = _pg_admin_url()
    name = f"xuanpin_tmpl_{os.getpid()}"

    async def create() -> bool:
        try:
            conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            if required:
                raise
            return False
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return True

    if not asyncio.run(create()):
        yield None
        return
    upgrade_sync(make_url(url).set(database=name).render_as_string(hide_password=False))
    yield name

    async def drop() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())


async def _sqlite_database(template: Path, tmp_path: Path) -> Database:
    path = tmp_path / "xuanpin.db"
    shutil.copyfile(template, path)
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url)
    return Database(url, engine, make_sessionmaker(engine))


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, migrated SQLite database."""
    db = await _sqlite_database(sqlite_template, tmp_path)
    yield db
    await db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(
    request: pytest.FixtureRequest, sqlite_template: Path, pg_template: str | None, tmp_path: Path
) -> AsyncIterator[Database]:
    """A fresh, migrated database on each backend: storage tests run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        database = await _sqlite_database(sqlite_template, tmp_path)
        yield database
        await database.engine.dispose()
        return
    template = pg_template
    if template is None:
        pytest.skip(
            "PostgreSQL is not reachable on 127.0.0.1:5432 (CI sets TEST_POSTGRES_URL and requires it)"
        )
    admin_url, _ = _pg_admin_url()
    name = f"xuanpin_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    database = Database(url, engine, make_sessionmaker(engine))
    try:
        yield database
    finally:
        await engine.dispose()
        conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


ADMIN_ID = 900


@pytest.fixture
async def services(sqlite_db: Database):
    """Services on a fresh SQLite database with an empty catalog; admin is ADMIN_ID."""
    from bot.services import Services, build_catalog_index
    from bot.settings import Settings
    from core.policy import default_policy

    settings = Settings(database_url=sqlite_db.url, admin_ids=frozenset({ADMIN_ID}), _env_file=None)
    catalog = build_catalog_index()
    yield Services(
        settings=settings, sessionmaker=sqlite_db.sessionmaker, policy=default_policy(), catalog=catalog
    )


@pytest.fixture
async def chat(services):
    from tests.harness import ChatHarness

    harness = ChatHarness(services)
    yield harness
    await harness.close()
