"""Merchants: invite codes and binding, the /mygoods listing, category averages, alerts' bookkeeping, stats.

Every function takes the caller's session and never commits (the handler middleware, or the job that
opened the session, does). Values come out as plain dataclasses.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import distinct, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.catalog import TIERS
from core.grading import DIMENSIONS
from storage.tables import (
    Category,
    DigestDelivery,
    InviteCode,
    Merchant,
    Product,
    Streamer,
    TierChange,
    User,
    utcnow,
)
from storage.users import MERCHANT, STREAMER

INVITE_TTL = timedelta(days=7)
CODE_LENGTH = 8
# No 0/O, 1/I/L: a code read aloud or copied from a screenshot should not be mistyped.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PAGE_SIZE = 10
_IN_CHUNK = 500  # ids per `IN (…)`


def _chunks(items: Sequence, size: int = _IN_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fold(text: str) -> str:
    """Full-width to half-width, case folded: how two spellings of a code are compared."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


# --------------------------------------------------------------------------------------------
# Merchants by code


@dataclass(frozen=True, slots=True)
class MerchantRef:
    id: int
    code: str
    name: str


def _ref(m: Merchant) -> MerchantRef:
    assert m.id is not None
    return MerchantRef(m.id, m.code, m.name)


async def find_merchant(session: AsyncSession, query: str) -> MerchantRef | None:
    """The merchant whose code is `query` (exactly, else ignoring case and full-width forms)."""
    query = query.strip()
    if not query:
        return None
    exact = (await session.exec(select(Merchant).where(Merchant.code == query))).first()
    if exact is not None:
        return _ref(exact)
    folded = _fold(query)
    rows = (await session.exec(select(Merchant).where(func.lower(Merchant.code) == folded.lower()))).all()
    if len(rows) == 1:
        return _ref(rows[0])
    return None


async def get_merchant(session: AsyncSession, merchant_id: int) -> MerchantRef | None:
    merchant = await session.get(Merchant, merchant_id)
    return _ref(merchant) if merchant is not None else None


async def close_merchants(session: AsyncSession, query: str, limit: int = 5) -> list[str]:
    """Merchant codes that look like `query` (substring first, then fuzzy), for "did you mean"."""
    rows = (await session.exec(select(Merchant.code, Merchant.name))).all()
    folded = _fold(query)
    if not folded:
        return [code for code, _ in rows[:limit]]
    by_key = {}
    for code, name in rows:
        by_key[code] = f"{_fold(code)} {_fold(name)}"
    found = [code for code, key in by_key.items() if folded in key]
    if len(found) < limit:
        matches = process.extract(folded, by_key, scorer=fuzz.WRatio, limit=limit * 2, score_cutoff=55)
        found += [code for _key, _score, code in matches if code not in found]
    return found[:limit]


# --------------------------------------------------------------------------------------------
# Invite codes and binding


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What the merchant typed -> a stored code: full-width folded, upper case, no spaces or dashes."""
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in text if ch.isalnum())[:32]


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    merchant: MerchantRef
    expires_at: datetime


async def create_invite(
    session: AsyncSession, merchant: MerchantRef, *, created_by: int, now: datetime | None = None
) -> Invite:
    """A one-time code for `merchant`, valid for INVITE_TTL."""
    now = now or utcnow()
    code = new_code()
    while await session.get(InviteCode, code) is not None:  # ~10^12 codes: practically never loops
        code = new_code()
    invite = InviteCode(
        code=code, merchant_id=merchant.id, created_by=created_by, created_at=now, expires_at=now + INVITE_TTL
    )
    session.add(invite)
    await session.flush()
    return Invite(code, merchant, invite.expires_at)


class BindStatus(StrEnum):
    BOUND = "bound"  # linked (first time, or after being a streamer)
    SWITCHED = "switched"  # was linked to another merchant, now to this one
    ALREADY = "already"  # already linked to this merchant; the code is left unused
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class BindResult:
    status: BindStatus
    merchant: MerchantRef | None = None
    previous: MerchantRef | None = None


async def bind_invite(
    session: AsyncSession,
    code: str,
    *,
    telegram_id: int,
    name: str = "",
    username: str | None = None,
    language: str = "zh",
    now: datetime | None = None,
) -> BindResult:
    """Use a one-time code: the user becomes a merchant user of the code's merchant.

    The code is taken with one conditional UPDATE, so two people racing for it cannot both win.
    """
    now = now or utcnow()
    code = normalise_code(code)
    invite = await session.get(InviteCode, code) if code else None
    if invite is None:
        return BindResult(BindStatus.UNKNOWN)
    merchant = await get_merchant(session, invite.merchant_id)
    user = await session.get(User, telegram_id)
    already = user is not None and user.role == MERCHANT and user.merchant_id == invite.merchant_id
    if invite.used_by is not None:
        return BindResult(BindStatus.ALREADY if already else BindStatus.USED, merchant)
    if _aware(invite.expires_at) <= now:
        return BindResult(BindStatus.EXPIRED, merchant)
    if already:
        return BindResult(BindStatus.ALREADY, merchant)
    taken = await session.exec(
        update(InviteCode)
        .where(
            col(InviteCode.code) == code, col(InviteCode.used_by).is_(None), col(InviteCode.expires_at) > now
        )
        .values(used_by=telegram_id, used_at=now)
    )
    if taken.rowcount != 1:
        return BindResult(BindStatus.USED, merchant)
    previous = None
    if user is None:
        user = User(telegram_id=telegram_id, name=name, username=username, language=language)
        session.add(user)
    elif user.role == MERCHANT and user.merchant_id is not None:
        previous = await get_merchant(session, user.merchant_id)
    user.role = MERCHANT
    user.merchant_id = invite.merchant_id
    await session.flush()
    return BindResult(BindStatus.SWITCHED if previous else BindStatus.BOUND, merchant, previous)


class RevokeStatus(StrEnum):
    REVOKED = "revoked"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


async def revoke_invite(session: AsyncSession, code: str, *, now: datetime | None = None) -> RevokeStatus:
    """Make an unused code expire now."""
    now = now or utcnow()
    invite = await session.get(InviteCode, normalise_code(code))
    if invite is None:
        return RevokeStatus.UNKNOWN
    if invite.used_by is not None:
        return RevokeStatus.USED
    if _aware(invite.expires_at) <= now:
        return RevokeStatus.EXPIRED
    invite.expires_at = now
    await session.flush()
    return RevokeStatus.REVOKED


def _aware(value: datetime) -> datetime:
    # Make sure comparisons are between aware datetimes on every backend.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# /mygoods


@dataclass(frozen=True, slots=True)
class GoodsLine:
    id: int
    sku: str
    title: str
    tier: str
    score: float
    counterfeit: bool


async def tier_counts(session: AsyncSession, merchant_id: int) -> dict[str, int]:
    """How many of the merchant's products sit in each tier (an index-only scan of (merchant_id, tier))."""
    rows = (
        await session.exec(
            select(Product.tier, func.count())
            .where(Product.merchant_id == merchant_id)
            .group_by(Product.tier)
        )
    ).all()
    counts = dict.fromkeys(TIERS, 0)
    counts.update({tier: int(n) for tier, n in rows})
    return counts


async def goods_page(
    session: AsyncSession,
    merchant_id: int,
    *,
    tier: str | None = None,
    page: int = 0,
    per_page: int = PAGE_SIZE,
) -> list[GoodsLine]:
    """One page of the merchant's products: best tier first, then highest score."""
    columns: tuple[Any, ...] = (Product.id, Product.sku, Product.title, Product.tier, Product.score)
    columns += (Product.counterfeit_flag,)
    query = select(*columns).where(Product.merchant_id == merchant_id)
    if tier is not None:
        query = query.where(Product.tier == tier)
    query = (
        query.order_by(col(Product.tier).desc(), col(Product.score).desc(), col(Product.id))
        .offset(max(page, 0) * per_page)
        .limit(per_page)
    )
    rows = (await session.exec(query)).all()
    return [GoodsLine(r[0], r[1], r[2], r[3], float(r[4]), bool(r[5])) for r in rows]


# --------------------------------------------------------------------------------------------
# The radar chart's reference


async def category_average(session: AsyncSession, category: str) -> dict[str, float] | None:
    """Each dimension's mean over the category's products (counterfeits left out): one aggregate query."""
    dims = [
        Product.dim_brand,
        Product.dim_price,
        Product.dim_distribution,
        Product.dim_service,
        Product.dim_sales,
    ]
    row: Any = (
        await session.exec(
            select(func.count(), *(func.avg(d) for d in dims))
            .select_from(Product)
            .join(Category, col(Category.id) == col(Product.category_id))
            .where(Category.name == category, Product.counterfeit_flag == 0)
        )
    ).one()
    if not row[0]:
        return None
    return {dim: float(value or 0.0) for dim, value in zip(DIMENSIONS, row[1:], strict=True)}


# --------------------------------------------------------------------------------------------
# Tier-change alerts


@dataclass(frozen=True, slots=True)
class AlertRecipient:
    telegram_id: int
    language: str
    merchant_id: int
    merchant_name: str


async def alert_recipients(session: AsyncSession, merchant_ids: Iterable[int]) -> list[AlertRecipient]:
    """Every active user bound to one of `merchant_ids`."""
    ids = sorted(set(merchant_ids))
    out: list[AlertRecipient] = []
    for chunk in _chunks(ids):
        rows = (
            await session.exec(
                select(User.telegram_id, User.language, User.merchant_id, Merchant.name)
                .join(Merchant, col(Merchant.id) == col(User.merchant_id))
                .where(User.role == MERCHANT, col(User.merchant_id).in_(chunk), col(User.active).is_(True))
                .order_by(col(User.telegram_id))
            )
        ).all()
        out += [AlertRecipient(int(tid), lang or "zh", int(mid or 0), name) for tid, lang, mid, name in rows]
    return out


@dataclass(frozen=True, slots=True)
class ProductRef:
    id: int
    merchant_id: int


async def products_by_sku(session: AsyncSession, skus: Iterable[str]) -> dict[str, ProductRef]:
    wanted = sorted(set(skus))
    out: dict[str, ProductRef] = {}
    for chunk in _chunks(wanted):
        rows = (
            await session.exec(
                select(Product.sku, Product.id, Product.merchant_id).where(col(Product.sku).in_(chunk))
            )
        ).all()
        out.update({sku: ProductRef(int(pid or 0), int(mid)) for sku, pid, mid in rows})
    return out


async def already_alerted(session: AsyncSession, product_ids: Iterable[int]) -> set[int]:
    """Products whose tier changes were all told already (none left with alerted_at unset)."""
    ids = sorted(set(product_ids))
    known: set[int] = set()
    pending: set[int] = set()
    for chunk in _chunks(ids):
        rows = (
            await session.exec(
                select(col(TierChange.product_id), func.count(), func.count(col(TierChange.alerted_at)))
                .where(col(TierChange.product_id).in_(chunk))
                .group_by(col(TierChange.product_id))
            )
        ).all()
        for pid, total, told in rows:
            known.add(int(pid))
            if told < total:
                pending.add(int(pid))
    return known - pending


async def mark_alerted(
    session: AsyncSession, product_ids: Iterable[int], *, now: datetime | None = None
) -> int:
    """Stamp `alerted_at` on the products' untold tier changes; returns how many rows."""
    now = now or utcnow()
    ids = sorted(set(product_ids))
    marked = 0
    for chunk in _chunks(ids):
        result = await session.exec(
            update(TierChange)
            .where(col(TierChange.product_id).in_(chunk), col(TierChange.alerted_at).is_(None))
            .values(alerted_at=now)
        )
        marked += result.rowcount or 0
    return marked


async def deactivate_user(session: AsyncSession, telegram_id: int) -> None:
    """Telegram says the user blocked the bot: write to them no more until they /start again."""
    await session.exec(update(User).where(col(User.telegram_id) == telegram_id).values(active=False))


# --------------------------------------------------------------------------------------------
# /stats


@dataclass
class Stats:
    products: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    by_category: list[tuple[str, int]] = field(default_factory=list)
    streamers_started: int = 0
    streamers_digest_on: int = 0
    streamers_imported: int = 0
    merchants: int = 0
    merchants_bound: int = 0
    merchant_users: int = 0
    digests: dict[str, int] = field(default_factory=dict)  # status -> count, last 7 local days
    since: date | None = None


async def catalog_stats(
    session: AsyncSession, *, today: date, admin_ids: Iterable[int] = (), days: int = 7
) -> Stats:
    """The admin's overview: catalog by tier and category, users by role, recent digest outcomes."""
    stats = Stats(since=today - timedelta(days=days - 1))
    tiers = (await session.exec(select(Product.tier, func.count()).group_by(Product.tier))).all()
    stats.by_tier = dict.fromkeys(TIERS, 0) | {tier: int(n) for tier, n in tiers}
    stats.products = sum(stats.by_tier.values())
    cats = (
        await session.exec(
            select(Category.name, func.count(col(Product.id)))
            .join(Product, col(Product.category_id) == col(Category.id))
            .group_by(Category.name)
            .order_by(func.count(col(Product.id)).desc(), Category.name)
        )
    ).all()
    stats.by_category = [(name, int(n)) for name, n in cats]
    admins = sorted(set(admin_ids))
    streamer = select(func.count()).select_from(User).where(User.role == STREAMER)
    if admins:
        streamer = streamer.where(col(User.telegram_id).not_in(admins))
    stats.streamers_started = int((await session.exec(streamer)).one())
    stats.streamers_digest_on = int(
        (
            await session.exec(streamer.where(col(User.digest_enabled).is_(True), col(User.active).is_(True)))
        ).one()
    )
    stats.streamers_imported = int((await session.exec(select(func.count()).select_from(Streamer))).one())
    stats.merchants = int((await session.exec(select(func.count()).select_from(Merchant))).one())
    bound = select(func.count(distinct(col(User.merchant_id))), func.count()).where(
        User.role == MERCHANT, col(User.merchant_id).is_not(None)
    )
    merchants_bound, merchant_users = (await session.exec(bound)).one()
    stats.merchants_bound, stats.merchant_users = int(merchants_bound), int(merchant_users)
    digests = (
        await session.exec(
            select(DigestDelivery.status, func.count())
            .where(col(DigestDelivery.local_date) >= stats.since)
            .group_by(DigestDelivery.status)
        )
    ).all()
    stats.digests = {status: int(n) for status, n in digests}
    return stats
