"""Users and roles: who is acting, registration on /start, merchant users to alert, blocked chats.

Roles add up: everyone who has started the bot is a streamer, a bound merchant is a merchant too,
and the ADMIN_IDS are admins. `roles_of` is the one place that says which roles a user holds
and a bound 团长 (`leader_id`) adds the leader role.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol

import asyncpg
from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.sql import aware, chunks, dialect_insert, table_of
from storage.tables import ExclusiveOffer, Merchant, User, utcnow

STREAMER, MERCHANT, ADMIN, LEADER = "streamer", "merchant", "admin", "leader"
ROLE_ORDER = (ADMIN, LEADER, MERCHANT, STREAMER)  # the first one held is a user's `role` (the main one)


class UserFacts(Protocol):
    """What a Viewer is built from: a User row, or the row `user_facts` reads."""

    @property
    def merchant_id(self) -> int | None: ...
    @property
    def leader_id(self) -> int | None: ...
    @property
    def team_id(self) -> int | None: ...
    @property
    def timezone(self) -> str | None: ...


def roles_of(user: UserFacts | None, *, is_admin: bool = False) -> frozenset[str]:
    """Every role a user holds; they add up, none replaces another."""
    roles = {STREAMER}
    if user is not None and user.merchant_id is not None:
        roles.add(MERCHANT)
    if user is not None and user.leader_id is not None:
        roles.add(LEADER)  # 团长: bound with a code from /invite_leader
    if is_admin:
        roles.add(ADMIN)
    return frozenset(roles)


def main_role(roles: frozenset[str]) -> str:
    return next((role for role in ROLE_ORDER if role in roles), STREAMER)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is acting, as the handlers need it: id, roles, bound merchant and reply language.

    `roles` is the set held; `role` is the main one (admin > merchant > streamer) for callers
    that need a single word. Built with only `role`, the set is what that role implies.
    """

    telegram_id: int
    role: str
    lang: str
    merchant_id: int | None = None
    registered: bool = False
    roles: frozenset[str] = field(default_factory=frozenset)
    leader_id: int | None = None  # the 团长 this user is bound as
    team_id: int | None = None  # the 团长 whose team they joined (their activities mark goods for them)
    timezone: str | None = None  # their /tz (None: the operator's default)
    offers_until: datetime | None = None  # when the last exclusive offer made to them ends

    def __post_init__(self) -> None:
        if not self.roles:
            object.__setattr__(self, "roles", frozenset({STREAMER, self.role}))

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def owns(self, merchant_id: int) -> bool:
        return self.merchant_id is not None and self.merchant_id == merchant_id

    def may_hold_offers(self, now: datetime) -> bool:
        """Whether an exclusive offer to them may be live at `now` (worth looking their rates up)."""
        return self.offers_until is not None and aware(self.offers_until) > now

    def may_see_private(self, merchant_id: int) -> bool:
        """Raw indicators are for the owning merchant and admins only."""
        return self.is_admin or self.owns(merchant_id)


def viewer_of(user: UserFacts | None, telegram_id: int, lang: str, *, is_admin: bool) -> Viewer:
    """The Viewer for a user row (None: never started), wherever a request comes from (chat, Mini App)."""
    roles = roles_of(user, is_admin=is_admin)
    return Viewer(
        telegram_id=telegram_id,
        role=main_role(roles),
        roles=roles,
        lang=lang,
        merchant_id=user.merchant_id if user is not None else None,
        leader_id=user.leader_id if user is not None else None,
        team_id=user.team_id if user is not None else None,
        timezone=user.timezone if user is not None else None,
        offers_until=getattr(user, "offers_until", None),  # read by user_facts; not a User column
        registered=user is not None,
    )


async def get_user(telegram_id: int, *, session: AsyncSession) -> User | None:
    return await session.get(User, telegram_id)


class Facts(NamedTuple):
    merchant_id: int | None
    leader_id: int | None
    team_id: int | None
    timezone: str | None
    offers_until: datetime | None = None  # when the last 专属 offer made to them ends (live or not)


# The latest end of an exclusive offer to the user: a search shows their own rates only when one may
# still be live, so streamers who hold none (nearly all) cost no query for them.
_OFFERS_UNTIL = (
    select(func.max(ExclusiveOffer.expires_at))
    .where(col(ExclusiveOffer.streamer_id) == col(User.telegram_id))
    .scalar_subquery()
)
_FACTS = sa_select(
    col(User.merchant_id), col(User.leader_id), col(User.team_id), col(User.timezone), _OFFERS_UNTIL
).where(col(User.telegram_id) == bindparam("telegram_id"))
# The same statement as asyncpg takes it ($1 for the id), for FactsReader's own connections.
_FACTS_PG = str(_FACTS.compile(dialect=asyncpg_dialect.dialect()))


_DRIVER_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
# Connection settings of SQLAlchemy's asyncpg adapter, not of asyncpg.connect.
_SQLALCHEMY_ONLY = ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn")


class FactsUnavailable(Exception):
    """FactsReader could not reach the database (down, restarted, refused): ask through a session."""


class FactsReader:
    """`user_facts` on PostgreSQL over a few asyncpg connections of its own, outside any session.

    Every update reads its user first (handlers/middlewares.py). Through a session that one round
    trip also costs a pool check-out and check-in and four greenlet hops: about 270 µs of CPU against
    60-80 µs here, a tenth of a whole search (benchmarks/updates_throughput.py). Only this prepared,
    read-only statement runs on these connections, never in a transaction, so they need no reset
    between uses.

    A failure drops every idle connection (a restarted database breaks them all) and suspends the
    reader: until `resume`, every read raises FactsUnavailable, so the callers ask through their
    sessions, whose first statement finds the pool's dead connections and replaces them before any
    handler runs (handlers/middlewares.py). The caller resumes the reader once a session read works.
    """

    def __init__(self, connect: Callable[[], Awaitable[Any]], *, size: int = 4) -> None:
        self._connect = connect
        self._slots = asyncio.Semaphore(size)
        self._idle: list[Any] = []
        self.suspended = False
        self._broken = False

    @classmethod
    def for_engine(cls, engine: AsyncEngine, *, size: int = 4) -> FactsReader | None:
        """A reader on the engine's PostgreSQL database, with its connection arguments; None elsewhere."""
        if engine.dialect.name != "postgresql":
            return None
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        for own_setting in _SQLALCHEMY_ONLY:  # SQLAlchemy's adapter takes these; asyncpg would refuse them
            kwargs.pop(own_setting, None)

        async def connect() -> Any:
            return await asyncpg.connect(*args, **kwargs)

        return cls(connect, size=size)

    async def read(self, telegram_id: int) -> Facts | None:
        """The user's facts; raises FactsUnavailable when the database could not be asked this way."""
        if self.suspended:
            raise FactsUnavailable("suspended after a failure, until a read through a session works")
        async with self._slots:
            try:
                connection = self._idle.pop() if self._idle else await self._connect()
            except _DRIVER_ERRORS as exc:
                raise self._failed(exc) from exc
            except Exception as exc:  # not the database but how we call it (bad settings): for good
                self._broken = True
                raise self._failed(exc) from exc
            try:
                found = await connection.fetchrow(_FACTS_PG, telegram_id)
            except BaseException as exc:  # a broken connection, or cancelled mid-request: never reuse it
                connection.terminate()
                # Whatever this fixed read-only statement meets is the connection's or the database's
                # trouble: after a restart asyncpg may even say "another operation is in progress"
                # (InternalClientError). The session's read then says what is really wrong.
                if isinstance(exc, Exception):
                    raise self._failed(exc) from exc
                raise
            self._idle.append(connection)
        return Facts(*found) if found is not None else None

    def resume(self) -> None:
        """The database answered through a session again: read directly from now on (unless the
        reader cannot connect at all, whatever the database does: then the sessions read for good)."""
        self.suspended = self._broken

    def _failed(self, exc: BaseException) -> FactsUnavailable:
        self.suspended = True
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.terminate()
        return FactsUnavailable(f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


async def user_facts(telegram_id: int, *, session: AsyncSession) -> Facts | None:
    """The columns a Viewer needs, through the caller's session. Each update's own read goes through
    FactsReader on PostgreSQL (see there); this one serves SQLite, its fall-back, and the Mini App."""
    connection = await session.connection()
    found = (await connection.execute(_FACTS, {"telegram_id": telegram_id})).first()
    return Facts(*found) if found is not None else None


async def insert_user_if_absent(
    telegram_id: int, *, language: str, name: str = "", username: str | None = None, session: AsyncSession
) -> bool:
    """Create the user's row unless it exists; True when this call created it.

    One `INSERT … ON CONFLICT DO NOTHING`, so two processes meeting a new user at the same moment
    (two replicas, a re-posted update) both succeed and exactly one creates the row.
    """
    row = User(telegram_id=telegram_id, name=name, username=username, language=language).model_dump()
    result = await session.exec(
        dialect_insert(session, table_of(User))
        .values(**row)
        .on_conflict_do_nothing(index_elements=["telegram_id"])
    )
    return (result.rowcount or 0) > 0


async def load_user(telegram_id: int, *, session: AsyncSession) -> User:
    """The user's row as it is in the database now (after an upsert the session has not seen)."""
    user = await session.get(User, telegram_id, populate_existing=True)
    assert user is not None, f"user {telegram_id} vanished"
    return user


async def register(
    telegram_id: int, *, name: str, username: str | None, language: str, session: AsyncSession
) -> tuple[User, bool]:
    """Create or refresh the user on /start; returns (user, was_inactive). Re-activates a blocked user."""
    created = await insert_user_if_absent(
        telegram_id, name=name, username=username, language=language, session=session
    )
    user = await load_user(telegram_id, session=session)
    was_inactive = not created and not user.active
    if not created:
        user.name, user.username, user.language = name, username, language
        user.active = True
        user.started_at = utcnow()
        await session.flush()
    return user, was_inactive


async def deactivate(telegram_id: int, *, session: AsyncSession) -> None:
    """Telegram says we may not write to this chat (403, or it is gone): stop until they /start again."""
    await session.exec(update(User).where(col(User.telegram_id) == telegram_id).values(active=False))


@dataclass(frozen=True, slots=True)
class AlertRecipient:
    telegram_id: int
    language: str
    merchant_id: int
    merchant_name: str


async def alert_recipients(merchant_ids: Iterable[int], *, session: AsyncSession) -> list[AlertRecipient]:
    """Every active user bound to one of `merchant_ids`: who hears of their goods' tier changes."""
    ids = sorted(set(merchant_ids))
    out: list[AlertRecipient] = []
    for chunk in chunks(ids):
        rows = (
            await session.exec(
                select(User.telegram_id, User.language, User.merchant_id, Merchant.name)
                .join(Merchant, col(Merchant.id) == col(User.merchant_id))
                .where(col(User.merchant_id).in_(chunk), col(User.active).is_(True))
                .order_by(col(User.telegram_id))
            )
        ).all()
        out += [AlertRecipient(int(tid), lang or "zh", int(mid or 0), name) for tid, lang, mid, name in rows]
    return out
