"""Streamers: sales mixes, picks history, 不感兴趣, watches, digest settings and digest delivery rows.

Every function takes the caller's session (keyword-only) and never commits: the handler
middleware, or the job that opened the session, does. Values come out as plain dataclasses.

Digest delivery rows are the source of truth for "sent at most once per streamer and local day":

    pending ──claim──▶ pending + claimed_by ──on wire──▶ sending ──▶ sent | blocked | invalid | failed
                                 ▲                          │ 429 (a definite "not delivered")
                                 └──────────────────────────┘

A claim (`claimed_by`, stamped with `updated_at`) is a lease: it only keeps two passes from queueing
the same row. The real guard is `mark_on_wire`, which moves the row to `sending` only for the claim
that still holds it, right before the HTTP request; so a row is on the wire for at most one pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.catalog import CatalogItem
from storage.catalog import item_from_row, items_query
from storage.models import (
    Category,
    DigestDelivery,
    NotInterested,
    PickSent,
    Product,
    Streamer,
    StreamerSale,
    User,
    Watch,
    WatchState,
    utcnow,
)
from storage.users import STREAMER

_IN_CHUNK = 500  # ids per `IN (…)`

# Delivery statuses. `skipped` (nothing to send: no picks, or digests turned off after the row was
# made) joins the lifecycle pending → sending → sent | blocked | invalid | failed.
PENDING, SENDING, SENT, BLOCKED, INVALID, FAILED, SKIPPED = (
    "pending",
    "sending",
    "sent",
    "blocked",
    "invalid",
    "failed",
    "skipped",
)
FINAL_STATUSES = frozenset({SENT, BLOCKED, INVALID, FAILED, SKIPPED})
_LIVE = (PENDING, SENDING)

MAX_WATCHES = 50
MAX_CHOSEN = 20


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def split_list(text: str | None) -> tuple[str, ...]:
    """`a;b;;c` -> ("a", "b", "c")."""
    return tuple(part for part in (text or "").split(";") if part)


# --------------------------------------------------------------------------------------------
# Sales, mixes and the pickable catalog


async def all_sales(*, session: AsyncSession) -> dict[int, dict[str, float]]:
    """Every streamer's 30-day GMV by category name (the peer index and the platform mix)."""
    rows = await session.exec(
        select(StreamerSale.telegram_id, Category.name, StreamerSale.gmv_30d).join(
            Category, col(Category.id) == col(StreamerSale.category_id)
        )
    )
    sales: dict[int, dict[str, float]] = defaultdict(dict)
    for telegram_id, category, gmv in rows.all():
        sales[int(telegram_id)][category] = float(gmv)
    return dict(sales)


async def streamer_sales(telegram_id: int, *, session: AsyncSession) -> dict[str, float]:
    rows = await session.exec(
        select(Category.name, StreamerSale.gmv_30d)
        .join(Category, col(Category.id) == col(StreamerSale.category_id))
        .where(col(StreamerSale.telegram_id) == telegram_id)
    )
    return {category: float(gmv) for category, gmv in rows.all()}


async def product_gmv_by_category(*, session: AsyncSession) -> dict[str, float]:
    """The catalog's own GMV by category: the platform mix when no streamer sales are imported."""
    rows = await session.exec(
        select(Category.name, func.sum(Product.gmv_30d))
        .join(Category, col(Category.id) == col(Product.category_id))
        .where(col(Product.counterfeit_flag) == 0)
        .group_by(Category.name)
    )
    return {category: float(total or 0) for category, total in rows.all()}


async def categories(*, session: AsyncSession) -> list[tuple[int, str]]:
    """(id, name) of every category, by name."""
    rows = await session.exec(select(col(Category.id), Category.name).order_by(Category.name))
    return [(int(i), n) for i, n in rows.all()]  # type: ignore[call-overload, arg-type]


_PICKABLE = ("L4", "L5")


async def pickable_items(*, session: AsyncSession) -> list[CatalogItem]:
    """L4+ goods that are not flagged counterfeit, as plain items (what picks choose from)."""
    query = items_query().where(col(Product.tier).in_(_PICKABLE), col(Product.counterfeit_flag) == 0)
    return [item_from_row(row) for row in (await session.exec(query)).all()]


async def picks_data_version(*, session: AsyncSession) -> tuple[Any, ...]:
    """A cheap fingerprint of what picks are computed from (goods, grades, sales)."""
    products = (
        await session.exec(select(func.count(), func.max(Product.updated_at), func.max(Product.graded_at)))
    ).one()
    streamers = (await session.exec(select(func.count(), func.max(Streamer.updated_at)))).one()
    sales = (await session.exec(select(func.count(), func.sum(StreamerSale.gmv_30d)))).one()
    return (*products, *streamers, *sales)


# --------------------------------------------------------------------------------------------
# A streamer's settings


@dataclass(frozen=True, slots=True)
class StreamerProfile:
    """What picks and the digest need to know about one user."""

    telegram_id: int
    language: str = "zh"
    timezone: str | None = None
    digest_enabled: bool = True
    digest_time: str | None = None
    active: bool = True
    chosen: tuple[str, ...] = ()
    registered: bool = False


def _profile(user: User) -> StreamerProfile:
    return StreamerProfile(
        telegram_id=int(user.telegram_id),
        language=user.language,
        timezone=user.timezone,
        digest_enabled=user.digest_enabled,
        digest_time=user.digest_time,
        active=user.active,
        chosen=split_list(user.chosen_categories),
        registered=True,
    )


async def get_profile(telegram_id: int, *, session: AsyncSession) -> StreamerProfile:
    """The user's settings; defaults for someone known only from imported sales (or not at all)."""
    user = await session.get(User, telegram_id)
    return _profile(user) if user is not None else StreamerProfile(telegram_id=telegram_id)


async def ensure_user(telegram_id: int, *, language: str, session: AsyncSession) -> User:
    """The user's row, created if they talk to the bot before /start (settings need somewhere to live)."""
    user = await session.get(User, telegram_id)
    if user is None:
        user = User(telegram_id=telegram_id, language=language)
        session.add(user)
        await session.flush()
    return user


async def set_digest(
    telegram_id: int, *, language: str, enabled: bool, at: str | None = None, session: AsyncSession
) -> StreamerProfile:
    """Digests on or off; `at` ('HH:MM') also sets the time (and turns them on)."""
    user = await ensure_user(telegram_id, language=language, session=session)
    user.digest_enabled = enabled
    if at is not None:
        user.digest_time = at
    await session.flush()
    return _profile(user)


async def set_timezone(
    telegram_id: int, zone: str, *, language: str, session: AsyncSession
) -> StreamerProfile:
    user = await ensure_user(telegram_id, language=language, session=session)
    user.timezone = zone
    await session.flush()
    return _profile(user)


async def set_chosen_categories(
    telegram_id: int, chosen: Sequence[str], *, language: str, session: AsyncSession
) -> StreamerProfile:
    user = await ensure_user(telegram_id, language=language, session=session)
    user.chosen_categories = ";".join(dict.fromkeys(c for c in chosen if c and ";" not in c))[:500]
    await session.flush()
    return _profile(user)


async def deactivate(telegram_id: int, *, session: AsyncSession) -> None:
    """Telegram says we may not write to this chat (403, or it is gone): stop until they /start again."""
    await session.exec(update(User).where(col(User.telegram_id) == telegram_id).values(active=False))


# --------------------------------------------------------------------------------------------
# Picks history and 不感兴趣


async def recent_pick_skus(
    telegram_ids: Collection[int], *, since: date, until: date, session: AsyncSession
) -> dict[int, dict[str, date]]:
    """sku -> last day shown, per streamer, for picks shown on `since` <= day < `until`."""
    found: dict[int, dict[str, date]] = defaultdict(dict)
    for chunk in _chunks(sorted(set(telegram_ids))):
        rows = await session.exec(
            select(PickSent.telegram_id, PickSent.sku, PickSent.sent_on).where(  # type: ignore[call-overload, arg-type]
                col(PickSent.telegram_id).in_(chunk),
                col(PickSent.sent_on) >= since,
                col(PickSent.sent_on) < until,
            )
        )
        for telegram_id, sku, sent_on in rows.all():
            seen = found[int(telegram_id)]
            if sku not in seen or seen[sku] < sent_on:
                seen[sku] = sent_on
    return dict(found)


async def record_picks(telegram_id: int, skus: Sequence[str], on: date, *, session: AsyncSession) -> int:
    """Remember that these picks were shown on `on` (once per sku and day); returns rows added."""
    wanted = list(dict.fromkeys(skus))
    if not wanted:
        return 0
    known = set(
        (
            await session.exec(
                select(PickSent.sku).where(
                    col(PickSent.telegram_id) == telegram_id,
                    col(PickSent.sent_on) == on,
                    col(PickSent.sku).in_(wanted),
                )
            )
        ).all()
    )
    new = [PickSent(telegram_id=telegram_id, sku=sku, sent_on=on) for sku in wanted if sku not in known]
    session.add_all(new)
    await session.flush()
    return len(new)


async def not_interested_skus(telegram_ids: Collection[int], *, session: AsyncSession) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    for chunk in _chunks(sorted(set(telegram_ids))):
        rows = await session.exec(
            select(NotInterested.telegram_id, NotInterested.sku).where(
                col(NotInterested.telegram_id).in_(chunk)
            )
        )
        for telegram_id, sku in rows.all():
            found[int(telegram_id)].add(sku)
    return dict(found)


async def mark_not_interested(telegram_id: int, sku: str, *, session: AsyncSession) -> bool:
    """Remember 不感兴趣; False when it was already remembered."""
    exists = (
        await session.exec(
            select(col(NotInterested.id)).where(
                col(NotInterested.telegram_id) == telegram_id, col(NotInterested.sku) == sku
            )
        )
    ).first()
    if exists is not None:
        return False
    session.add(NotInterested(telegram_id=telegram_id, sku=sku))
    await session.flush()
    return True


@dataclass(frozen=True, slots=True)
class ProductBrief:
    """Enough of one product for a button's answer (and the server-side re-check)."""

    id: int
    sku: str
    title: str
    brand: str
    tier: str
    commission_rate: float
    counterfeit: bool


def _brief(row: Any) -> ProductBrief:
    return ProductBrief(int(row[0]), row[1], row[2], row[3], row[4], float(row[5]), bool(row[6]))


_BRIEF = (
    Product.id,
    Product.sku,
    Product.title,
    Product.brand,
    Product.tier,
    Product.commission_rate,
    Product.counterfeit_flag,
)


async def product_brief(product_id: int, *, session: AsyncSession) -> ProductBrief | None:
    row = (await session.exec(select(*_BRIEF).where(col(Product.id) == product_id))).first()  # type: ignore[call-overload, arg-type]
    return _brief(row) if row is not None else None


async def product_brief_by_sku(sku: str, *, session: AsyncSession) -> ProductBrief | None:
    row = (await session.exec(select(*_BRIEF).where(col(Product.sku) == sku))).first()  # type: ignore[call-overload, arg-type]
    if row is None:  # skus are matched as typed first, then case-insensitively
        row = (
            await session.exec(select(*_BRIEF).where(func.lower(Product.sku) == sku.lower()).limit(1))  # type: ignore[call-overload, arg-type]
        ).first()
    return _brief(row) if row is not None else None


async def find_brand(name: str, *, session: AsyncSession) -> str | None:
    """The catalog's spelling of a brand typed in any case, or None."""
    row = (
        await session.exec(
            select(Product.brand).where(func.lower(Product.brand) == name.strip().lower()).limit(1)
        )
    ).first()
    return row


# --------------------------------------------------------------------------------------------
# Watches


@dataclass(frozen=True, slots=True)
class WatchInfo:
    id: int
    kind: str  # product | brand
    target: str  # sku | brand


async def list_watches(telegram_id: int, *, session: AsyncSession) -> list[WatchInfo]:
    rows = await session.exec(
        select(col(Watch.id), Watch.kind, Watch.target)
        .where(col(Watch.telegram_id) == telegram_id)
        .order_by(col(Watch.id))
    )
    return [WatchInfo(int(i), k, t) for i, k, t in rows.all()]  # type: ignore[call-overload, arg-type]


async def add_watch(
    telegram_id: int, kind: str, target: str, *, language: str, session: AsyncSession
) -> tuple[WatchInfo, bool] | None:
    """Watch a product or a brand; (watch, created), or None when the streamer watches too many.

    The watched products' current tier and commission are remembered at once, so only a real
    rise after this moment alerts.
    """
    await ensure_user(telegram_id, language=language, session=session)
    existing = (
        await session.exec(
            select(Watch).where(
                col(Watch.telegram_id) == telegram_id, col(Watch.kind) == kind, col(Watch.target) == target
            )
        )
    ).first()
    if existing is not None:
        return WatchInfo(int(existing.id or 0), existing.kind, existing.target), False
    count = (await session.exec(select(func.count()).where(col(Watch.telegram_id) == telegram_id))).one()
    if count >= MAX_WATCHES:
        return None
    watch = Watch(telegram_id=telegram_id, kind=kind, target=target)
    session.add(watch)
    await session.flush()
    assert watch.id is not None
    condition = col(Product.sku) == target if kind == "product" else col(Product.brand) == target
    rows = (
        await session.exec(select(Product.sku, Product.tier, Product.commission_rate).where(condition))
    ).all()
    session.add_all(
        WatchState(watch_id=watch.id, sku=sku, tier=tier, commission_rate=float(rate))
        for sku, tier, rate in rows
    )
    await session.flush()
    return WatchInfo(watch.id, kind, target), True


async def remove_watch(telegram_id: int, watch_id: int, *, session: AsyncSession) -> WatchInfo | None:
    """Stop a watch; only its owner may (None: no such watch of theirs)."""
    watch = await session.get(Watch, watch_id)
    if watch is None or watch.telegram_id != telegram_id:
        return None
    info = WatchInfo(int(watch.id or 0), watch.kind, watch.target)
    await session.exec(delete(WatchState).where(col(WatchState.watch_id) == watch_id))
    await session.delete(watch)
    await session.flush()
    return info


@dataclass(frozen=True, slots=True)
class WatchedProduct:
    """One product under one watch, now and as last told."""

    watch_id: int
    telegram_id: int
    language: str
    active: bool
    kind: str
    sku: str
    title: str
    brand: str
    tier: str
    commission_rate: float
    counterfeit: bool
    state_id: int | None
    last_tier: str | None
    last_commission: float | None


async def watched_products(*, session: AsyncSession) -> list[WatchedProduct]:
    """Every (watch, product) pair, with what the watcher was last told about the product."""
    out: list[WatchedProduct] = []
    for kind, on in (
        ("product", and_(col(Watch.kind) == "product", col(Product.sku) == col(Watch.target))),
        ("brand", and_(col(Watch.kind) == "brand", col(Product.brand) == col(Watch.target))),
    ):
        rows = await session.exec(
            select(  # type: ignore[call-overload, arg-type]
                Watch.id,
                Watch.telegram_id,
                User.language,
                User.active,
                Product.sku,
                Product.title,
                Product.brand,
                Product.tier,
                Product.commission_rate,
                Product.counterfeit_flag,
                WatchState.id,
                WatchState.tier,
                WatchState.commission_rate,
            )
            .join(Product, on)
            .join(User, col(User.telegram_id) == col(Watch.telegram_id), isouter=True)
            .join(
                WatchState,
                and_(col(WatchState.watch_id) == col(Watch.id), col(WatchState.sku) == col(Product.sku)),
                isouter=True,
            )
            .order_by(col(Watch.id), col(Product.sku))
        )
        for r in rows.all():
            out.append(
                WatchedProduct(
                    watch_id=int(r[0]),
                    telegram_id=int(r[1]),
                    language=r[2] or "zh",
                    active=bool(r[3]) if r[3] is not None else False,
                    kind=kind,
                    sku=r[4],
                    title=r[5],
                    brand=r[6],
                    tier=r[7],
                    commission_rate=float(r[8]),
                    counterfeit=bool(r[9]),
                    state_id=int(r[10]) if r[10] is not None else None,
                    last_tier=r[11],
                    last_commission=float(r[12]) if r[12] is not None else None,
                )
            )
    return out


async def save_watch_states(products: Iterable[WatchedProduct], *, session: AsyncSession) -> int:
    """Remember each product's tier and commission as told (or as a silent baseline)."""
    changed = 0
    for p in products:
        if p.state_id is None:
            session.add(
                WatchState(watch_id=p.watch_id, sku=p.sku, tier=p.tier, commission_rate=p.commission_rate)
            )
            changed += 1
        elif p.last_tier != p.tier or p.last_commission != p.commission_rate:
            await session.exec(
                update(WatchState)
                .where(col(WatchState.id) == p.state_id)
                .values(tier=p.tier, commission_rate=p.commission_rate)
            )
            changed += 1
    await session.flush()
    return changed


# --------------------------------------------------------------------------------------------
# Digest delivery rows


def _eligible():
    """Who gets digests: streamers who started the bot, still reachable, with digests on."""
    return and_(col(User.role) == STREAMER, col(User.digest_enabled).is_(True), col(User.active).is_(True))


async def digest_groups(*, session: AsyncSession) -> list[tuple[str | None, str | None]]:
    """The distinct (time zone, digest time) settings of eligible streamers (None: the default)."""
    rows = await session.exec(select(User.timezone, User.digest_time).where(_eligible()).distinct())
    return [(tz, at) for tz, at in rows.all()]


def _dialect_insert(session: AsyncSession, table: Any) -> Any:
    name = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


async def create_rows(
    local_date: date,
    *,
    session: AsyncSession,
    group: tuple[str | None, str | None] | None = None,
    now: datetime | None = None,
) -> int:
    """Pending rows for `local_date` for every eligible streamer (of one settings group) without one.

    One INSERT … SELECT … ON CONFLICT DO NOTHING: the unique (telegram_id, local_date) constraint
    makes concurrent passes and replicas harmless.
    """
    now = now or utcnow()
    where = [_eligible()]
    if group is not None:
        zone, at = group
        where.append(col(User.timezone).is_(None) if zone is None else col(User.timezone) == zone)
        where.append(col(User.digest_time).is_(None) if at is None else col(User.digest_time) == at)
    table = DigestDelivery.__table__  # type: ignore[attr-defined]
    stamp = table.c.created_at.type
    source = sa_select(
        col(User.telegram_id),
        literal(local_date, table.c.local_date.type),
        literal(PENDING),
        literal(""),
        literal(0),
        literal(now, stamp),
        literal(now, stamp),
    ).where(*where)
    statement = (
        _dialect_insert(session, table)
        .from_select(
            ["telegram_id", "local_date", "status", "skus", "attempts", "created_at", "updated_at"], source
        )
        .on_conflict_do_nothing(index_elements=["telegram_id", "local_date"])
    )
    result = await session.exec(statement)
    return max(result.rowcount or 0, 0)


async def fail_stale_sending(
    older_than: datetime, *, now: datetime | None = None, session: AsyncSession
) -> list[int]:
    """Rows left `sending` by a pass that died mid-request: their outcome is unknown, so they are
    marked failed and never re-sent (a missed digest is better than a duplicate). Returns their ids."""
    now = now or utcnow()
    ids = list(
        (
            await session.exec(
                select(col(DigestDelivery.id)).where(
                    col(DigestDelivery.status) == SENDING, col(DigestDelivery.updated_at) < older_than
                )
            )
        ).all()
    )
    for chunk in _chunks(ids):
        await session.exec(
            update(DigestDelivery)
            .where(
                col(DigestDelivery.id).in_(chunk),
                col(DigestDelivery.status) == SENDING,
                col(DigestDelivery.updated_at) < older_than,
            )
            .values(
                status=FAILED,
                error="interrupted while sending: outcome unknown, not re-sent",
                claimed_by=None,
                updated_at=now,
            )
        )
    return [int(i) for i in ids]  # type: ignore[call-overload, arg-type]


async def pending_past_candidates(
    *, not_after: date, keep: date | None, now: datetime, lease: timedelta, session: AsyncSession
) -> list[tuple[int, date, str | None]]:
    """(row id, local date, the streamer's zone) of pending rows nobody holds, dated `not_after` or
    earlier: the candidates for expiry (whether their day is over depends on the streamer's zone)."""
    where = [
        col(DigestDelivery.status) == PENDING,
        col(DigestDelivery.local_date) <= not_after,
        or_(col(DigestDelivery.claimed_by).is_(None), col(DigestDelivery.updated_at) < now - lease),
    ]
    if keep is not None:
        where.append(col(DigestDelivery.local_date) != keep)
    rows = await session.exec(
        select(col(DigestDelivery.id), DigestDelivery.local_date, User.timezone)  # type: ignore[call-overload, arg-type]
        .join(User, col(User.telegram_id) == col(DigestDelivery.telegram_id), isouter=True)
        .where(*where)
    )
    return [(int(i), d, tz) for i, d, tz in rows.all()]


async def expire_rows(ids: Sequence[int], *, now: datetime, lease: timedelta, session: AsyncSession) -> int:
    """Pending rows for a local day that is over: they will never go out (still nobody's, re-checked)."""
    expired = 0
    for chunk in _chunks(list(ids)):
        result = await session.exec(
            update(DigestDelivery)
            .where(
                col(DigestDelivery.id).in_(chunk),
                col(DigestDelivery.status) == PENDING,
                or_(col(DigestDelivery.claimed_by).is_(None), col(DigestDelivery.updated_at) < now - lease),
            )
            .values(status=FAILED, error="expired: the local day is over", claimed_by=None, updated_at=now)
        )
        expired += max(result.rowcount or 0, 0)
    return expired


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A delivery row this pass holds, with its streamer's settings as of the claim."""

    id: int
    telegram_id: int
    local_date: date
    profile: StreamerProfile
    role: str


def _free(dates: Collection[date], *, now: datetime, lease: timedelta):  # type: ignore[no-untyped-def]
    """Pending rows for `dates` that nobody holds (or whose holder's lease ran out)."""
    return and_(
        col(DigestDelivery.status) == PENDING,
        col(DigestDelivery.local_date).in_(sorted(dates)),
        or_(col(DigestDelivery.claimed_by).is_(None), col(DigestDelivery.updated_at) < now - lease),
    )


async def claim_rows(
    token: str,
    dates: Collection[date],
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    session: AsyncSession,
) -> list[ClaimedRow]:
    """Atomically take up to `limit` free pending rows for `dates`, oldest first.

    One `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) AND <still free> RETURNING id`: on
    PostgreSQL concurrent claimers skip each other's locked rows and the outer WHERE is re-checked
    on the row version they lock; SQLite runs one writer at a time. Either way a row is won by one
    claimer only. May return fewer rows than are free (a race lost); see `has_free_rows`.
    """
    if not dates:
        return []
    free = _free(dates, now=now, lease=lease)
    # A materialised CTE: PostgreSQL could otherwise run a LIMIT … FOR UPDATE subquery more than once
    # and lock more than `limit` rows.
    pick = (
        sa_select(col(DigestDelivery.id))
        .where(free)
        .order_by(col(DigestDelivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("picked")
        .prefix_with("MATERIALIZED")
    )
    won = (
        await session.exec(
            update(DigestDelivery)
            .where(col(DigestDelivery.id).in_(sa_select(pick.c.id)), free)
            .values(claimed_by=token, updated_at=now)
            .returning(col(DigestDelivery.id))
        )
    ).all()
    ids = sorted(int(row[0]) for row in won)
    if not ids:
        return []
    rows = await session.exec(
        select(col(DigestDelivery.id), DigestDelivery.telegram_id, DigestDelivery.local_date, User)  # type: ignore[call-overload, arg-type]
        .join(User, col(User.telegram_id) == col(DigestDelivery.telegram_id), isouter=True)
        .where(col(DigestDelivery.id).in_(ids))
        .order_by(col(DigestDelivery.id))
    )
    claimed = []
    for row_id, telegram_id, local_date, user in rows.all():
        profile = _profile(user) if user is not None else StreamerProfile(int(telegram_id), active=False)
        claimed.append(
            ClaimedRow(
                int(row_id), int(telegram_id), local_date, profile, user.role if user is not None else ""
            )
        )
    return claimed


async def has_free_rows(
    dates: Collection[date], *, now: datetime, lease: timedelta, session: AsyncSession
) -> bool:
    if not dates:
        return False
    found = (
        await session.exec(select(col(DigestDelivery.id)).where(_free(dates, now=now, lease=lease)).limit(1))
    ).first()
    return found is not None


def _held(row_id: int, token: str):
    return and_(
        col(DigestDelivery.id) == row_id,
        col(DigestDelivery.claimed_by) == token,
        col(DigestDelivery.status).in_(_LIVE),
    )


async def mark_on_wire(row_id: int, token: str, *, now: datetime, session: AsyncSession) -> bool:
    """Right before an HTTP request: `sending`, one more attempt. False: our claim is gone (do not send)."""
    result = await session.exec(
        update(DigestDelivery)
        .where(_held(row_id, token))
        .values(status=SENDING, attempts=DigestDelivery.attempts + 1, updated_at=now)
    )
    return (result.rowcount or 0) == 1


async def mark_off_wire(row_id: int, token: str, error: str, *, now: datetime, session: AsyncSession) -> None:
    """Telegram answered "not delivered" (a 429): the row is ours and pending again, safe to retry."""
    await session.exec(
        update(DigestDelivery)
        .where(_held(row_id, token))
        .values(status=PENDING, error=error[:300], updated_at=now)
    )


async def finish_row(
    row_id: int,
    token: str,
    status: str,
    *,
    now: datetime,
    message_id: int | None = None,
    error: str | None = None,
    skus: Sequence[str] = (),
    attempts: int | None = None,
    session: AsyncSession,
) -> bool:
    """Record a final outcome for a row we hold; False when the claim was lost meanwhile."""
    assert status in FINAL_STATUSES
    values: dict[str, Any] = dict(
        status=status,
        message_id=message_id,
        error=(error or None) and error[:300],
        skus=";".join(skus)[:500],
        updated_at=now,
    )
    if attempts is not None:
        values["attempts"] = attempts
    result = await session.exec(update(DigestDelivery).where(_held(row_id, token)).values(**values))
    return (result.rowcount or 0) == 1


async def requeue_row(row_id: int, token: str, error: str, *, now: datetime, session: AsyncSession) -> bool:
    """Give a row back, unsent and unclaimed (a flood-limited pass stops; the next pass retries it)."""
    result = await session.exec(
        update(DigestDelivery)
        .where(_held(row_id, token))
        .values(status=PENDING, claimed_by=None, error=error[:300], updated_at=now)
    )
    return (result.rowcount or 0) == 1


async def release_claims(token: str, *, session: AsyncSession) -> int:
    """Give back every row this pass claimed but never put on the wire."""
    result = await session.exec(
        update(DigestDelivery)
        .where(col(DigestDelivery.claimed_by) == token, col(DigestDelivery.status) == PENDING)
        .values(claimed_by=None)
    )
    return max(result.rowcount or 0, 0)


async def delivery_counts(local_date: date | None = None, *, session: AsyncSession) -> dict[str, int]:
    """Rows by status (for one local date, or all)."""
    query = select(DigestDelivery.status, func.count()).group_by(DigestDelivery.status)
    if local_date is not None:
        query = query.where(col(DigestDelivery.local_date) == local_date)
    return {status: int(n) for status, n in (await session.exec(query)).all()}


async def add_delivery_row(telegram_id: int, local_date: date, *, session: AsyncSession) -> None:
    """One pending row (tests and tools); the unique constraint still applies."""
    await session.exec(
        insert(DigestDelivery).values(
            telegram_id=telegram_id,
            local_date=local_date,
            status=PENDING,
            skus="",
            attempts=0,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
    )
