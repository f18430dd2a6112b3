"""Sample requests (寄样) and merchants' sample rules.

Every function takes the caller's session (keyword-only) and never commits. A move is one
conditional UPDATE on (id, party, current status), so a replayed or raced button changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.samples import OPEN, Action, Party, Status, allowed, check_rule, next_status, party_for
from storage.tables import Category, Merchant, Product, SampleRequest, SampleRule, StreamerSale, User, utcnow

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Limits:
    max_open: int = 5  # open requests per streamer
    per_product_day: int = 20  # requests per product per day, all streamers together


@dataclass(frozen=True, slots=True)
class SampleView:
    id: int
    product_id: int
    sku: str
    title: str
    category: str
    merchant_id: int
    merchant: str
    streamer_id: int
    streamer: str
    status: str
    tracking: str | None
    reason: str | None
    changed_at: datetime
    merchant_code: str = ""


class Refusal(StrEnum):
    GONE = "gone"  # no such product
    OWN = "own"  # a merchant's own product
    DUPLICATE = "duplicate"  # already an open request for it
    TOO_MANY = "too_many"  # too many open requests
    PRODUCT_DAY = "product_day"  # the product had its requests for today
    RULE = "rule"  # outside the merchant's sample rule


@dataclass(frozen=True, slots=True)
class Requested:
    view: SampleView | None = None
    refusal: Refusal | None = None
    needed: float = 0.0  # RULE: the rule's minimum
    have: float = 0.0  # RULE: the streamer's 30-day GMV in that category
    existing_id: int | None = None  # DUPLICATE: the open request


_VIEW = (
    SampleRequest.id,
    SampleRequest.product_id,
    Product.sku,
    Product.title,
    Category.name,
    SampleRequest.merchant_id,
    Merchant.name,
    SampleRequest.streamer_id,
    User.name,
    SampleRequest.status,
    SampleRequest.tracking,
    SampleRequest.reason,
    SampleRequest.changed_at,
    Merchant.code,
)


def _views():
    return (
        select(*_VIEW)  # type: ignore[call-overload]
        .join(Product, col(Product.id) == col(SampleRequest.product_id))
        .join(Category, col(Category.id) == col(Product.category_id))
        .join(Merchant, col(Merchant.id) == col(SampleRequest.merchant_id))
        .join(User, col(User.telegram_id) == col(SampleRequest.streamer_id), isouter=True)
    )


def _view(row) -> SampleView:
    return SampleView(
        int(row[0]), int(row[1]), row[2], row[3], row[4], int(row[5]), row[6], int(row[7]), row[8] or "",
        row[9], row[10], row[11], row[12], row[13],
    )  # fmt: skip


async def get_request(request_id: int, *, session: AsyncSession) -> SampleView | None:
    row = (await session.exec(_views().where(col(SampleRequest.id) == request_id))).first()
    return _view(row) if row is not None else None


async def category_gmv(telegram_id: int, category_id: int, *, session: AsyncSession) -> float:
    gmv = (
        await session.exec(
            select(StreamerSale.gmv_30d).where(
                col(StreamerSale.telegram_id) == telegram_id, col(StreamerSale.category_id) == category_id
            )
        )
    ).first()
    return float(gmv or 0.0)


async def request_sample(
    product_id: int,
    *,
    streamer_id: int,
    streamer_merchant_id: int | None = None,
    limits: Limits,
    now: datetime | None = None,
    session: AsyncSession,
) -> Requested:
    """A new request, or the reason there is none (checked in the order a streamer can act on)."""
    now = now or utcnow()
    product = await session.get(Product, product_id)
    if product is None:
        return Requested(refusal=Refusal.GONE)
    if streamer_merchant_id is not None and streamer_merchant_id == product.merchant_id:
        return Requested(refusal=Refusal.OWN)
    open_ids = (
        await session.exec(
            select(SampleRequest.id, SampleRequest.product_id).where(
                col(SampleRequest.streamer_id) == streamer_id, col(SampleRequest.status).in_(list(OPEN))
            )
        )
    ).all()
    same = [int(rid or 0) for rid, pid in open_ids if pid == product_id]
    if same:
        return Requested(refusal=Refusal.DUPLICATE, existing_id=same[0])
    if len(open_ids) >= limits.max_open:
        return Requested(refusal=Refusal.TOO_MANY, needed=limits.max_open)
    today = (
        await session.exec(
            select(func.count()).where(
                col(SampleRequest.product_id) == product_id, col(SampleRequest.created_at) > now - DAY
            )
        )
    ).one()
    if int(today) >= limits.per_product_day:
        return Requested(refusal=Refusal.PRODUCT_DAY, needed=limits.per_product_day)
    rule = (
        await session.exec(
            select(SampleRule.min_gmv_30d).where(
                col(SampleRule.merchant_id) == product.merchant_id,
                col(SampleRule.category_id) == product.category_id,
            )
        )
    ).first()
    if rule is not None:
        check = check_rule(float(rule), await category_gmv(streamer_id, product.category_id, session=session))
        if not check.ok:
            return Requested(refusal=Refusal.RULE, needed=check.needed, have=check.have)
    row = SampleRequest(
        product_id=product_id,
        merchant_id=product.merchant_id,
        streamer_id=streamer_id,
        status=Status.REQUESTED,
        created_at=now,
        changed_at=now,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return Requested(view=await get_request(row.id, session=session))


@dataclass(frozen=True, slots=True)
class Moved:
    ok: bool
    view: SampleView | None  # the request as it is now (None: no such request, or not the presser's)


async def move(
    request_id: int,
    action: Action,
    *,
    telegram_id: int,
    merchant_id: int | None,
    tracking: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
    session: AsyncSession,
) -> Moved:
    """Do `action` if the presser is the party allowed to and the request is in the state it needs.

    The streamer acts by their Telegram id, a merchant user by their bound merchant; anyone else
    gets `Moved(False, None)` and learns nothing about the request.
    """
    now = now or utcnow()
    view = await get_request(request_id, session=session)
    if view is None:
        return Moved(False, None)
    party = party_for(action)
    if party == Party.STREAMER and view.streamer_id != telegram_id:
        return Moved(False, None)
    if party == Party.MERCHANT and (merchant_id is None or view.merchant_id != merchant_id):
        return Moved(False, None)
    if not allowed(action, view.status, party):
        return Moved(False, view)
    values: dict[str, object] = {"status": next_status(action), "changed_at": now, "reminded_at": None}
    if tracking is not None:
        values["tracking"] = tracking
    if reason is not None:
        values["reason"] = reason
    done = await session.exec(
        update(SampleRequest)
        .where(col(SampleRequest.id) == request_id, col(SampleRequest.status) == view.status)
        .values(**values)
    )
    if done.rowcount != 1:
        return Moved(False, await get_request(request_id, session=session))
    return Moved(True, await get_request(request_id, session=session))


async def for_streamer(telegram_id: int, *, limit: int = 20, session: AsyncSession) -> list[SampleView]:
    """A streamer's requests, newest first."""
    rows = await session.exec(
        _views()
        .where(col(SampleRequest.streamer_id) == telegram_id)
        .order_by(col(SampleRequest.id).desc())
        .limit(limit)
    )
    return [_view(r) for r in rows.all()]


async def for_merchant(merchant_id: int, *, limit: int = 20, session: AsyncSession) -> list[SampleView]:
    """Requests for a merchant's goods, open ones first, newest first."""
    rows = await session.exec(
        _views()
        .where(col(SampleRequest.merchant_id) == merchant_id)
        .order_by(col(SampleRequest.status).in_(list(OPEN)).desc(), col(SampleRequest.id).desc())
        .limit(limit)
    )
    return [_view(r) for r in rows.all()]


async def all_requests(*, session: AsyncSession) -> list[SampleView]:
    rows = await session.exec(_views().order_by(col(SampleRequest.id)))
    return [_view(r) for r in rows.all()]


@dataclass(frozen=True, slots=True)
class Waiting:
    id: int
    status: str
    changed_at: datetime
    reminded: bool


async def waiting(*, session: AsyncSession) -> list[Waiting]:
    """Every open request, for the reminder and expiry pass."""
    rows = await session.exec(
        select(
            SampleRequest.id, SampleRequest.status, SampleRequest.changed_at, SampleRequest.reminded_at
        ).where(col(SampleRequest.status).in_(list(OPEN)))
    )
    return [Waiting(int(i or 0), s, c, r is not None) for i, s, c, r in rows.all()]


async def mark_reminded(request_id: int, status: str, *, now: datetime, session: AsyncSession) -> bool:
    """Claim the reminder for the request's current state (False: another pass did, or it moved)."""
    done = await session.exec(
        update(SampleRequest)
        .where(
            col(SampleRequest.id) == request_id,
            col(SampleRequest.status) == status,
            col(SampleRequest.reminded_at).is_(None),
        )
        .values(reminded_at=now)
    )
    return done.rowcount == 1


async def expire(request_id: int, status: str, *, now: datetime, session: AsyncSession) -> bool:
    done = await session.exec(
        update(SampleRequest)
        .where(col(SampleRequest.id) == request_id, col(SampleRequest.status) == status)
        .values(status=Status.EXPIRED, changed_at=now)
    )
    return done.rowcount == 1


async def party_ids(merchant_id: int, *, session: AsyncSession) -> list[tuple[int, str]]:
    """The merchant's active users (Telegram id, language): who hears of requests for their goods."""
    rows = await session.exec(
        select(User.telegram_id, User.language)
        .where(col(User.merchant_id) == merchant_id, col(User.active).is_(True))
        .order_by(col(User.telegram_id))
    )
    return [(int(tid), lang or "zh") for tid, lang in rows.all()]


async def user_language(telegram_id: int, *, session: AsyncSession) -> str:
    lang = (await session.exec(select(User.language).where(col(User.telegram_id) == telegram_id))).first()
    return lang or "zh"


# --------------------------------------------------------------------------- rules


async def set_rule(merchant_id: int, category: str, min_gmv: float | None, *, session: AsyncSession) -> bool:
    """Set (or with None, clear) a merchant's rule for a category; False when there is no such category."""
    cat = (await session.exec(select(Category).where(col(Category.name) == category))).first()
    if cat is None or cat.id is None:
        return False
    rule = (
        await session.exec(
            select(SampleRule).where(
                col(SampleRule.merchant_id) == merchant_id, col(SampleRule.category_id) == cat.id
            )
        )
    ).first()
    if min_gmv is None:
        if rule is not None:
            await session.delete(rule)
    elif rule is None:
        session.add(SampleRule(merchant_id=merchant_id, category_id=cat.id, min_gmv_30d=min_gmv))
    else:
        rule.min_gmv_30d, rule.updated_at = min_gmv, utcnow()
    await session.flush()
    return True


async def rules_of(merchant_id: int, *, session: AsyncSession) -> list[tuple[str, float]]:
    rows = await session.exec(
        select(Category.name, SampleRule.min_gmv_30d)
        .join(Category, col(Category.id) == col(SampleRule.category_id))
        .where(col(SampleRule.merchant_id) == merchant_id)
        .order_by(Category.name)
    )
    return [(name, float(gmv)) for name, gmv in rows.all()]


async def product_owner(product_id: int, *, session: AsyncSession) -> tuple[str, str]:
    """(merchant name, category name) of a product; empty strings when it is gone."""
    row = (
        await session.exec(
            select(Merchant.name, Category.name)
            .join(Product, col(Product.merchant_id) == col(Merchant.id))
            .join(Category, col(Category.id) == col(Product.category_id))
            .where(col(Product.id) == product_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else ("", "")


async def category_names(*, session: AsyncSession) -> list[str]:
    return list((await session.exec(select(Category.name).order_by(Category.name))).all())
