"""Activities (招商活动): a 团长's floors, merchants' submissions, decisions, figures and marks.

Whether an activity is open is read from its dates against the caller's `today` on every query
(core.activities.state_on), so an activity ends by itself. A decision is taken with one
conditional UPDATE naming the 团长 and the "submitted" state: another 团长's (or a replayed)
button changes nothing.

Every function takes the caller's session (keyword-only) and never commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.activities import Floor, Mark, Refusal, State, refusal, state_on
from storage.sql import chunks
from storage.tables import (
    Activity,
    ActivityFloor,
    ActivitySubmission,
    Category,
    Leader,
    Merchant,
    Product,
    SampleRequest,
    User,
    utcnow,
)

SUBMITTED, APPROVED, REJECTED = "submitted", "approved", "rejected"
SHIPPED_STATES = ("shipped", "received")


@dataclass(frozen=True, slots=True)
class ActivityView:
    id: int
    leader_id: int
    leader: str
    name: str
    starts: date
    ends: date
    min_tier: str | None
    floors: dict[str, float] = field(default_factory=dict)  # category -> minimum commission

    def state(self, today: date) -> State:
        return state_on(self.starts, self.ends, today)


async def categories(*, session: AsyncSession) -> dict[str, str]:
    """Folded name -> stored name of every category (what a 团长 may put floors on)."""
    names = (await session.exec(select(Category.name).order_by(col(Category.name)))).all()
    return {n.casefold(): n for n in names}


async def create_activity(
    leader_id: int,
    *,
    name: str,
    starts: date,
    ends: date,
    floors: list[Floor],
    min_tier: str | None,
    created_by: int,
    session: AsyncSession,
) -> int:
    row = Activity(
        leader_id=leader_id, name=name, starts=starts, ends=ends, min_tier=min_tier, created_by=created_by
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    ids = {name: int(i or 0) for name, i in (await session.exec(select(Category.name, Category.id))).all()}
    for floor in floors:
        session.add(
            ActivityFloor(
                activity_id=row.id, category_id=ids[floor.category], min_commission=floor.min_commission
            )
        )
    await session.flush()
    return row.id


async def _views(where, *, session: AsyncSession) -> list[ActivityView]:
    rows = (
        await session.exec(
            select(Activity, Leader.name)
            .join(Leader, col(Leader.id) == col(Activity.leader_id))
            .where(where)
            .order_by(col(Activity.ends).desc(), col(Activity.id).desc())
        )
    ).all()
    ids = [a.id for a, _ in rows]
    floors: dict[int, dict[str, float]] = {}
    for chunk in chunks(ids):
        for activity_id, name, minimum in (
            await session.exec(
                select(ActivityFloor.activity_id, Category.name, ActivityFloor.min_commission)
                .join(Category, col(Category.id) == col(ActivityFloor.category_id))
                .where(col(ActivityFloor.activity_id).in_(chunk))
            )
        ).all():
            floors.setdefault(activity_id, {})[name] = minimum
    return [
        ActivityView(a.id, a.leader_id, leader, a.name, a.starts, a.ends, a.min_tier, floors.get(a.id, {}))
        for a, leader in rows
        if a.id is not None
    ]


async def get_activity(activity_id: int, *, session: AsyncSession) -> ActivityView | None:
    found = await _views(col(Activity.id) == activity_id, session=session)
    return found[0] if found else None


async def leader_activities(leader_id: int, *, session: AsyncSession) -> list[ActivityView]:
    return await _views(col(Activity.leader_id) == leader_id, session=session)


async def all_activities(*, session: AsyncSession) -> list[ActivityView]:
    return sorted(await _views(col(Activity.id) > 0, session=session), key=lambda a: a.id)


async def merchant_categories(merchant_id: int, *, session: AsyncSession) -> set[str]:
    rows = await session.exec(
        select(Category.name)
        .join(Product, col(Product.category_id) == col(Category.id))
        .where(col(Product.merchant_id) == merchant_id)
        .distinct()
    )
    return set(rows.all())


async def open_for_merchant(merchant_id: int, *, today: date, session: AsyncSession) -> list[ActivityView]:
    """Open activities with a floor on one of the merchant's categories."""
    mine = await merchant_categories(merchant_id, session=session)
    live = await _views((col(Activity.starts) <= today) & (col(Activity.ends) >= today), session=session)
    return [a for a in live if mine & a.floors.keys()]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A merchant's product that could go into an activity."""

    product_id: int
    sku: str
    title: str
    category: str
    tier: str
    commission: float
    status: str | None  # its submission's status in this activity, if submitted


async def candidates(
    activity: ActivityView, merchant_id: int, *, limit: int = 8, session: AsyncSession
) -> list[Candidate]:
    """The merchant's goods in the activity's categories, best tier first (any floor shows on submit)."""
    rows = (
        await session.exec(
            select(Product, Category.name, ActivitySubmission.status)
            .join(Category, col(Category.id) == col(Product.category_id))
            .outerjoin(
                ActivitySubmission,
                (col(ActivitySubmission.product_id) == col(Product.id))
                & (col(ActivitySubmission.activity_id) == activity.id),
            )
            .where(
                col(Product.merchant_id) == merchant_id,
                col(Category.name).in_(list(activity.floors)),
                col(Product.counterfeit_flag) == 0,
            )
            .order_by(col(Product.tier).desc(), col(Product.score).desc(), col(Product.id))
            .limit(limit)
        )
    ).all()
    return [
        Candidate(p.id, p.sku, p.title, cat, p.tier, p.commission_rate, status)
        for p, cat, status in rows
        if p.id is not None
    ]


class SubmitStatus(StrEnum):
    SUBMITTED = "submitted"
    REFUSED = "refused"  # below a floor, not open, or outside its categories: `refusal` says which
    DUPLICATE = "duplicate"
    GONE = "gone"  # no such product or activity
    NOT_YOURS = "not_yours"


@dataclass(frozen=True, slots=True)
class SubmissionView:
    id: int
    activity_id: int
    activity: str
    leader_id: int
    product_id: int
    sku: str
    title: str
    category: str
    merchant_id: int
    merchant: str
    rate: float
    tier: str
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Submitted:
    status: SubmitStatus
    view: SubmissionView | None = None
    refusal: Refusal | None = None
    floor: float | None = None  # the commission floor missed
    min_tier: str | None = None
    category: str = ""
    sku: str = ""
    rate: float = 0.0
    tier: str = ""


async def submit(
    activity_id: int,
    product_id: int,
    *,
    merchant_id: int,
    submitted_by: int,
    today: date,
    rate: float | None = None,
    session: AsyncSession,
) -> Submitted:
    """A merchant puts their product into an open activity, at `rate` (default: its public commission)."""
    activity = await get_activity(activity_id, session=session)
    found = (
        await session.exec(
            select(Product, Category.name)
            .join(Category, col(Category.id) == col(Product.category_id))
            .where(col(Product.id) == product_id)
        )
    ).first()
    if activity is None or found is None:
        return Submitted(SubmitStatus.GONE)
    product, category = found
    if product.merchant_id != merchant_id:
        return Submitted(SubmitStatus.NOT_YOURS)
    rate = product.commission_rate if rate is None else rate
    facts = dict(category=category, sku=product.sku, rate=rate, tier=product.tier, min_tier=activity.min_tier)
    if activity.state(today) != State.OPEN:
        return Submitted(SubmitStatus.REFUSED, refusal=Refusal.NOT_OPEN, **facts)  # type: ignore[arg-type]
    missed = refusal(
        category=category, rate=rate, tier=product.tier, floors=activity.floors, min_tier=activity.min_tier
    )
    if missed is not None:
        return Submitted(
            SubmitStatus.REFUSED,
            refusal=missed,
            floor=activity.floors.get(category),
            **facts,  # type: ignore[arg-type]
        )
    existing = (
        await session.exec(
            select(ActivitySubmission).where(
                col(ActivitySubmission.activity_id) == activity_id,
                col(ActivitySubmission.product_id) == product_id,
            )
        )
    ).first()
    if existing is not None and existing.status != REJECTED:
        view = await get_submission(existing.id or 0, session=session)
        return Submitted(SubmitStatus.DUPLICATE, view)
    if existing is None:
        existing = ActivitySubmission(
            activity_id=activity_id,
            product_id=product_id,
            merchant_id=merchant_id,
            rate=rate,
            tier=product.tier,
            submitted_by=submitted_by,
        )
        session.add(existing)
    else:  # a rejected product may come again (say, with a better commission)
        existing.rate, existing.tier, existing.status, existing.reason = rate, product.tier, SUBMITTED, None
        existing.submitted_by, existing.created_at, existing.decided_at = submitted_by, utcnow(), None
    await session.flush()
    view = await get_submission(existing.id or 0, session=session)
    return Submitted(SubmitStatus.SUBMITTED, view)


async def get_submission(submission_id: int, *, session: AsyncSession) -> SubmissionView | None:
    row = (
        await session.exec(
            select(ActivitySubmission, Activity, Product, Category.name)
            .join(Activity, col(Activity.id) == col(ActivitySubmission.activity_id))
            .join(Product, col(Product.id) == col(ActivitySubmission.product_id))
            .join(Category, col(Category.id) == col(Product.category_id))
            .where(col(ActivitySubmission.id) == submission_id)
        )
    ).first()
    if row is None:
        return None
    s, a, p, category = row
    owner = await session.get(Merchant, s.merchant_id)
    merchant = owner.name if owner is not None else ""
    return SubmissionView(
        s.id or 0,
        a.id or 0,
        a.name,
        a.leader_id,
        p.id or 0,
        p.sku,
        p.title,
        category,
        s.merchant_id,
        merchant,
        s.rate,
        s.tier,
        s.status,
        s.reason,
    )


async def decide(
    submission_id: int, *, leader_id: int, approve: bool, reason: str | None = None, session: AsyncSession
) -> SubmissionView | None:
    """The 团长 approves or rejects a waiting submission of their own activity; None changes nothing."""
    mine = select(Activity.id).where(col(Activity.leader_id) == leader_id).scalar_subquery()
    done = await session.exec(
        update(ActivitySubmission)
        .where(
            col(ActivitySubmission.id) == submission_id,
            col(ActivitySubmission.status) == SUBMITTED,
            col(ActivitySubmission.activity_id).in_(mine),
        )
        .values(status=APPROVED if approve else REJECTED, reason=reason, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        return None
    session.expire_all()
    return await get_submission(submission_id, session=session)


async def waiting(activity_id: int, *, limit: int = 10, session: AsyncSession) -> list[SubmissionView]:
    ids = (
        await session.exec(
            select(ActivitySubmission.id)
            .where(
                col(ActivitySubmission.activity_id) == activity_id,
                col(ActivitySubmission.status) == SUBMITTED,
            )
            .order_by(col(ActivitySubmission.id))
            .limit(limit)
        )
    ).all()
    out = [await get_submission(i or 0, session=session) for i in ids]
    return [v for v in out if v is not None]


@dataclass(frozen=True, slots=True)
class Figures:
    """What a 团长 sees of one activity: counts only, and samples asked by their own team."""

    submitted: int
    approved: int
    rejected: int
    by_tier: dict[str, int]  # approved goods by tier at submission
    merchants: int
    samples_asked: int
    samples_shipped: int


async def figures(activity: ActivityView, *, session: AsyncSession) -> Figures:
    rows = (
        await session.exec(
            select(ActivitySubmission.status, ActivitySubmission.tier, ActivitySubmission.merchant_id).where(
                col(ActivitySubmission.activity_id) == activity.id
            )
        )
    ).all()
    statuses = Counter(status for status, _, _ in rows)
    by_tier = Counter(tier for status, tier, _ in rows if status == APPROVED)
    approved = (
        select(ActivitySubmission.product_id)
        .where(col(ActivitySubmission.activity_id) == activity.id, col(ActivitySubmission.status) == APPROVED)
        .scalar_subquery()
    )
    team = select(User.telegram_id).where(col(User.team_id) == activity.leader_id).scalar_subquery()
    since = datetime.combine(activity.starts, time.min, tzinfo=UTC)
    samples = (
        await session.exec(
            select(SampleRequest.status, func.count())
            .where(
                col(SampleRequest.product_id).in_(approved),
                col(SampleRequest.streamer_id).in_(team),
                col(SampleRequest.created_at) >= since,
            )
            .group_by(col(SampleRequest.status))
        )
    ).all()
    asked = sum(int(n) for _, n in samples)
    shipped = sum(int(n) for status, n in samples if status in SHIPPED_STATES)
    return Figures(
        submitted=len(rows),
        approved=statuses[APPROVED],
        rejected=statuses[REJECTED],
        by_tier=dict(sorted(by_tier.items(), reverse=True)),
        merchants=len({m for _, _, m in rows}),
        samples_asked=asked,
        samples_shipped=shipped,
    )


async def counts(activity_ids: Iterable[int], *, session: AsyncSession) -> dict[int, tuple[int, int]]:
    """activity -> (submitted, approved), for listings."""
    out: dict[int, tuple[int, int]] = {}
    for chunk in chunks(sorted(set(activity_ids))):
        rows = (
            await session.exec(
                select(ActivitySubmission.activity_id, ActivitySubmission.status, func.count())
                .where(col(ActivitySubmission.activity_id).in_(chunk))
                .group_by(col(ActivitySubmission.activity_id), col(ActivitySubmission.status))
            )
        ).all()
        for activity_id, status, n in rows:
            submitted, approved = out.get(activity_id, (0, 0))
            out[activity_id] = (submitted + int(n), approved + (int(n) if status == APPROVED else 0))
    return out


async def marks_for(
    streamer_ids: Iterable[int], *, today: date, session: AsyncSession
) -> dict[int, dict[str, Mark]]:
    """streamer -> {sku: Mark} for the approved goods of their team's open activities."""
    out: dict[int, dict[str, Mark]] = {}
    for chunk in chunks(sorted(set(streamer_ids))):
        rows = (
            await session.exec(
                select(User.telegram_id, Product.sku, Activity, ActivitySubmission.rate)
                .join(Activity, col(Activity.leader_id) == col(User.team_id))
                .join(ActivitySubmission, col(ActivitySubmission.activity_id) == col(Activity.id))
                .join(Product, col(Product.id) == col(ActivitySubmission.product_id))
                .where(
                    col(User.telegram_id).in_(chunk),
                    col(ActivitySubmission.status) == APPROVED,
                    col(Activity.starts) <= today,
                    col(Activity.ends) >= today,
                )
                .order_by(col(Activity.id))
            )
        ).all()
        for tid, sku, activity, rate in rows:
            marks = out.setdefault(int(tid), {})
            if sku not in marks or rate > marks[sku].rate:  # two activities: the better rate shows
                marks[sku] = Mark(activity.id or 0, activity.name, float(rate))
    return out


async def mark_of(streamer_id: int, sku: str, *, today: date, session: AsyncSession) -> Mark | None:
    return (await marks_for([streamer_id], today=today, session=session)).get(streamer_id, {}).get(sku)
