"""团长, teams and activities in storage, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from core.activities import Floor, Refusal
from storage import activities, leaders
from storage.activities import SubmitStatus
from storage.invites import create_invite
from storage.leaders import JoinStatus, LeaderBind
from storage.merchants import find_merchant
from storage.tables import Merchant, SampleRequest, User
from storage.users import LEADER, MERCHANT, STREAMER, roles_of
from tests.factories import add_product, get_or_add

TODAY = date(2026, 12, 10)
AT = datetime(2026, 12, 10, 12, tzinfo=UTC)
LEADER_TG, OTHER_TG, MERCHANT_TG, S1, S2 = 10, 11, 20, 30, 31


async def _setup(session):
    await add_product(session, "HI", category="美妆个护", merchant="M1", commission_rate=0.3)
    await add_product(session, "LO", category="美妆个护", merchant="M1", commission_rate=0.1)
    await add_product(session, "FOOD", category="食品", merchant="M1", commission_rate=0.3)
    await get_or_add(session, Merchant, code="M2")
    m1 = await get_or_add(session, Merchant, code="M1")
    session.add(User(telegram_id=MERCHANT_TG, merchant_id=m1.id))
    for tid in (S1, S2):
        session.add(User(telegram_id=tid, name=f"s{tid}"))
    await session.flush()
    invite = await leaders.create_leader("星光", created_by=1, session=session)
    other = await leaders.create_leader("月亮", created_by=1, session=session)
    await leaders.bind_leader(invite.code, telegram_id=LEADER_TG, session=session)
    await leaders.bind_leader(other.code, telegram_id=OTHER_TG, session=session)
    return invite.leader, other.leader, m1.id


async def test_leader_binding_adds_up_with_merchant(db) -> None:
    async with db.sessionmaker() as session:
        await add_product(session, "X", merchant="M1")
        invite = await leaders.create_leader("星光", created_by=1, session=session)
        merchant = await find_merchant("M1", session=session)
        assert merchant is not None
        m_invite = await create_invite(merchant, created_by=1, session=session)
        assert invite.code != m_invite.code
        first = await leaders.bind_leader(invite.code.lower(), telegram_id=5, name="n", session=session)
        assert first is not None and first.status == LeaderBind.BOUND
        again = await leaders.bind_leader(invite.code, telegram_id=6, session=session)
        assert again is not None and again.status == LeaderBind.USED
        mine = await leaders.bind_leader(invite.code, telegram_id=5, session=session)
        assert mine is not None and mine.status == LeaderBind.USED_BY_YOU
        assert (
            await leaders.bind_leader(m_invite.code, telegram_id=5, session=session) is None
        )  # a merchant code
        user = await session.get(User, 5)
        user.merchant_id = merchant.id  # bound as a merchant too: roles add up
        assert roles_of(user) == {STREAMER, MERCHANT, LEADER}
        await session.commit()


async def test_team_join_switch_leave(db) -> None:
    async with db.sessionmaker() as session:
        mine, other, _ = await _setup(session)
        assert (await leaders.join_team("nope", telegram_id=S1, session=session)).status == JoinStatus.UNKNOWN
        assert (
            await leaders.join_team(mine.team_code, telegram_id=S1, session=session)
        ).status == JoinStatus.JOINED
        assert (
            await leaders.join_team(mine.team_code, telegram_id=S1, session=session)
        ).status == JoinStatus.ALREADY
        moved = await leaders.join_team(other.team_code, telegram_id=S1, session=session)
        assert moved.status == JoinStatus.SWITCHED and moved.previous == mine
        own = await leaders.join_team(mine.team_code, telegram_id=LEADER_TG, session=session)
        assert own.status == JoinStatus.OWN
        await leaders.join_team(mine.team_code, telegram_id=S2, session=session)
        total, members = await leaders.team_members(mine.id, session=session)
        assert total == 1 and [m.telegram_id for m in members] == [S2] and members[0].gmv_band == "none"
        assert await leaders.leave_team(S2, session=session) == mine
        assert await leaders.leave_team(S2, session=session) is None
        assert (await leaders.team_members(mine.id, session=session))[0] == 0


async def test_submissions_floors_decisions_marks_and_figures(db) -> None:
    async with db.sessionmaker() as session:
        mine, other, m1 = await _setup(session)
        await leaders.join_team(mine.team_code, telegram_id=S1, session=session)
        await leaders.join_team(other.team_code, telegram_id=S2, session=session)
        activity_id = await activities.create_activity(
            mine.id,
            name="双12",
            starts=TODAY,
            ends=TODAY + timedelta(days=6),
            floors=[Floor("美妆个护", 0.2)],
            min_tier="L3",
            created_by=LEADER_TG,
            session=session,
        )
        ids = {p.sku: p.id for p in (await session.exec(select(activities.Product))).all()}

        async def submit(sku: str, *, today: date = TODAY, merchant: int = m1, rate: float | None = None):
            return await activities.submit(
                activity_id, ids[sku], merchant_id=merchant, submitted_by=MERCHANT_TG, today=today, rate=rate,
                session=session,
            )  # fmt: skip

        low = await submit("LO")
        assert (low.status, low.refusal, low.floor, low.rate) == (
            SubmitStatus.REFUSED,
            Refusal.COMMISSION,
            0.2,
            0.1,
        )
        assert (
            await submit("LO", rate=0.25)
        ).status == SubmitStatus.SUBMITTED  # a better rate for the activity
        assert (await submit("FOOD")).refusal == Refusal.CATEGORY
        assert (await submit("HI", today=TODAY - timedelta(days=1))).refusal == Refusal.NOT_OPEN
        assert (await submit("HI", merchant=m1 + 1)).status == SubmitStatus.NOT_YOURS
        ok = await submit("HI")
        assert ok.status == SubmitStatus.SUBMITTED and ok.view is not None
        assert (await submit("HI")).status == SubmitStatus.DUPLICATE
        merchants = await activities.open_for_merchant(m1, today=TODAY, session=session)
        assert [a.id for a in merchants] == [activity_id]
        assert await activities.open_for_merchant(m1, today=TODAY + timedelta(days=7), session=session) == []

        # Another 团长 cannot decide it; its own 团长 can, once.
        assert await activities.decide(ok.view.id, leader_id=other.id, approve=True, session=session) is None
        decided = await activities.decide(ok.view.id, leader_id=mine.id, approve=True, session=session)
        assert decided is not None and decided.status == "approved"
        assert await activities.decide(ok.view.id, leader_id=mine.id, approve=False, session=session) is None
        lo_view = (await activities.waiting(activity_id, session=session))[0]
        rejected = await activities.decide(
            lo_view.id, leader_id=mine.id, approve=False, reason="价格", session=session
        )
        assert rejected is not None and rejected.reason == "价格"

        marks = await activities.marks_for([S1, S2, MERCHANT_TG], today=TODAY, session=session)
        assert set(marks) == {S1}  # only the team of the activity's 团长
        assert marks[S1]["HI"].name == "双12" and marks[S1]["HI"].rate == 0.3 and "LO" not in marks[S1]
        assert (
            await activities.marks_for([S1], today=TODAY + timedelta(days=7), session=session) == {}
        )  # ended

        session.add(
            SampleRequest(
                product_id=ids["HI"], merchant_id=m1, streamer_id=S1, status="shipped", created_at=AT
            )
        )
        session.add(
            SampleRequest(
                product_id=ids["HI"], merchant_id=m1, streamer_id=S1, status="requested", created_at=AT
            )
        )
        session.add(
            SampleRequest(
                product_id=ids["HI"], merchant_id=m1, streamer_id=S2, status="shipped", created_at=AT
            )
        )
        await session.flush()
        activity = await activities.get_activity(activity_id, session=session)
        assert activity is not None
        figures = await activities.figures(activity, session=session)
        assert (figures.submitted, figures.approved, figures.rejected, figures.merchants) == (2, 1, 1, 1)
        assert figures.by_tier == {decided.tier: 1}
        assert (figures.samples_asked, figures.samples_shipped) == (2, 1)  # S2 is another team's
        assert await activities.counts([activity_id], session=session) == {activity_id: (2, 1)}
        listed = await activities.all_activities(session=session)
        assert [(a.name, a.leader, a.floors) for a in listed] == [("双12", "星光", {"美妆个护": 0.2})]
        await session.commit()
