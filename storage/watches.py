"""Streamers' watches on a product or a brand, and the state that says what they were last told.

Every function takes the caller's session (keyword-only) and never commits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.profiles import ensure_user
from storage.sql import chunks, dialect_insert, rows_written, table_of
from storage.tables import (
    Product,
    User,
    Watch,
    WatchState,
)

MAX_WATCHES = 50


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
    existing = await _find_watch(telegram_id, kind, target, session=session)
    if existing is not None:
        return existing, False
    count = (await session.exec(select(func.count()).where(col(Watch.telegram_id) == telegram_id))).one()
    if count >= MAX_WATCHES:
        return None
    # An upsert: the same tap handled twice (or by two replicas) makes one watch, and no error.
    created = await rows_written(
        dialect_insert(session, table_of(Watch))
        .values(**Watch(telegram_id=telegram_id, kind=kind, target=target).model_dump(exclude={"id"}))
        .on_conflict_do_nothing(index_elements=["telegram_id", "kind", "target"]),
        session=session,
    )
    watch = await _find_watch(telegram_id, kind, target, session=session)
    assert watch is not None
    if not created:
        return watch, False
    condition = col(Product.sku) == target if kind == "product" else col(Product.brand) == target
    rows = (
        await session.exec(select(Product.sku, Product.tier, Product.commission_rate).where(condition))
    ).all()
    await _upsert_states(
        [
            {"watch_id": watch.id, "sku": sku, "tier": tier, "commission_rate": float(rate)}
            for sku, tier, rate in rows
        ],
        session=session,
    )
    return watch, True


async def _find_watch(telegram_id: int, kind: str, target: str, *, session: AsyncSession) -> WatchInfo | None:
    row = (
        await session.exec(
            select(Watch.id, Watch.kind, Watch.target).where(  # type: ignore[call-overload]
                col(Watch.telegram_id) == telegram_id, col(Watch.kind) == kind, col(Watch.target) == target
            )
        )
    ).first()
    return WatchInfo(int(row[0] or 0), row[1], row[2]) if row is not None else None


async def _upsert_states(rows: list[dict], *, session: AsyncSession) -> None:
    """Insert watch states, or move existing ones to these values (another process wrote them first)."""
    for chunk in chunks(rows, 200):
        statement = dialect_insert(session, table_of(WatchState)).values(list(chunk))
        await session.exec(
            statement.on_conflict_do_update(
                index_elements=["watch_id", "sku"],
                set_={"tier": statement.excluded.tier, "commission_rate": statement.excluded.commission_rate},
            )
        )


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
    new_states = []
    for p in products:
        if p.state_id is None:
            new_states.append(
                {"watch_id": p.watch_id, "sku": p.sku, "tier": p.tier, "commission_rate": p.commission_rate}
            )
            changed += 1
        elif p.last_tier != p.tier or p.last_commission != p.commission_rate:
            await session.exec(
                update(WatchState)
                .where(col(WatchState.id) == p.state_id)
                .values(tier=p.tier, commission_rate=p.commission_rate)
            )
            changed += 1
    if new_states:
        await _upsert_states(new_states, session=session)
    await session.flush()
    return changed
