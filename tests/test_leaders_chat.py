"""团长, teams and activities through the real dispatcher: what each side reads, in zh and en.

The privacy checks read every text sent: a 团长 sees their team as bands, never a GMV figure;
another 团长's (or a merchant's) press on an approve button does nothing; the activity's mark
reaches the team's streamers only.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage

from bot.picks import batch_picks, picks_context
from core.picks import Pick
from core.schedule import local_today, zone_of
from handlers.leaders import ActCb, TeamCb
from storage import profiles
from storage.tables import Merchant, utcnow
from tests.conftest import ADMIN_ID
from tests.factories import add_product, bind_merchant, get_or_add
from tests.harness import buttons, plain, texts
from tests.test_digest_helpers import put_sales

LEADER, OTHER, MERCHANT, S1, S2 = 501, 502, 503, 504, 505


def sent_to(requests: list[Any], chat_id: int) -> list[SendMessage]:
    return [r for r in requests if isinstance(r, SendMessage) and r.chat_id == chat_id]


def alerts(requests: list[Any]) -> list[str]:
    return [r.text or "" for r in requests if isinstance(r, AnswerCallbackQuery)]


def button_data(request: Any, word: str) -> str:
    for text, data in buttons(request):
        if word in text and data:
            return data
    raise AssertionError(f"no {word!r} button in {buttons(request)}")


async def make_leader(chat, user: int, name: str, lang: str = "zh-hans") -> str:
    """The admin invites a 团长, who binds; returns the team code from their /team link."""
    [invite] = texts(await chat.message(ADMIN_ID, f"/invite_leader {name}"))
    code = re.search(r"<code>(\w+)</code>", invite).group(1)  # type: ignore[union-attr]
    assert f"/bind {code}" in invite
    await chat.message(user, "/start", lang=lang)
    bound = texts(await chat.message(user, f"/bind {code}", lang=lang))
    assert ("团长" in bound[0]) if lang.startswith("zh") else ("team leader" in bound[0])
    team = "\n".join(texts(await chat.message(user, "/team", lang=lang)))
    link = re.search(r"https://t\.me/xuanpin_demo_bot\?start=(team_[\w-]+)", team)
    assert link is not None, team
    return link.group(1)


@pytest.fixture
async def world(services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "HI-1", title="双十二面霜", category="美妆个护", commission_rate=0.3)
        await add_product(session, "LO-1", title="平价面霜", category="美妆个护", commission_rate=0.1)
        await add_product(session, "OTHER-1", title="别家面霜", category="美妆个护", merchant="M2")
        await get_or_add(session, Merchant, code="M1")
        await bind_merchant(session, MERCHANT, "M1")
        await put_sales(session, S1, {"美妆个护": 123_456})
        await session.commit()
    await services.catalog.refresh(services.sessionmaker)


async def create_activity(chat, leader: int = LEADER) -> None:
    """Walk the guided chat with a mistake at every step, then create 双12 (美妆个护 ≥20%, L3+)."""
    asked = texts(await chat.message(leader, "/activity new"))
    assert "活动名称" in asked[0]
    assert "最多 60" in texts(await chat.message(leader, "名" * 61))[0]
    assert "第 2 步" in texts(await chat.message(leader, "双12"))[0]
    assert "没看懂这个时间" in texts(await chat.message(leader, "下周"))[0]
    floors = texts(await chat.message(leader, "7"))[0]
    assert "第 3 步" in floors and "美妆个护" in floors
    assert "没有品类「数码」" in texts(await chat.message(leader, "数码 20%"))[0]
    assert "佣金「200%」无效" in texts(await chat.message(leader, "美妆个护 200%"))[0]
    assert "第 4 步" in texts(await chat.message(leader, "美妆个护 20%"))[0]
    assert "L1 到 L5" in texts(await chat.message(leader, "L9"))[0]
    [confirm] = sent_to(await chat.callback(leader, ActCb(action="tier", id=3).pack()), leader)
    assert "双12" in confirm.text and "≥20.0%" in confirm.text and "L3" in confirm.text
    done = await chat.callback(leader, button_data(confirm, "创建"))
    assert any("已创建招商活动 #1「双12」" in x for x in texts(done))


async def test_invite_bind_team_link_join_and_leave(chat, world) -> None:
    team = await make_leader(chat, LEADER, "星光")
    joined = texts(await chat.message(S1, f"/start {team}"))
    assert any("你已加入团长 <b>星光</b> 的团队" in x for x in joined)
    assert any("已经在团长" in x for x in texts(await chat.message(S1, f"/start {team}")))
    assert any("链接无效" in x for x in texts(await chat.message(S2, "/start team_forged")))

    roster = "\n".join(texts(await chat.message(LEADER, "/team")))
    assert "1 位主播" in roster and "user504" in roster
    assert "123" not in plain(roster).replace(str(S1), "")  # a band, never the streamer's figure
    assert "月销" in roster

    mine = await chat.message(S1, "/team")
    assert "你在团长 <b>星光</b> 的团队里" in texts(mine)[0]
    left = await chat.callback(S1, TeamCb(action="leave").pack())
    assert any("你已退出团长" in x for x in texts(left))
    assert "你不在任何团队里" in texts(await chat.message(S1, "/leave_team"))[0]
    help_text = texts(await chat.message(LEADER, "/help"))[0]
    assert "/activity" in help_text and "/team" in help_text and "/mygoods" not in help_text


async def test_team_codes_are_throttled_like_bind(chat, world) -> None:
    replies = []
    for i in range(12):
        replies += texts(await chat.message(S2, f"/start team_guess{i}"))
    assert any("请" in x and "秒后再试" in x for x in replies)


async def test_commands_of_the_role_say_which_role(chat, world) -> None:
    needs = texts(await chat.message(S2, "/activity"))[0]
    assert "/activity 是团长的命令" in needs and "/bind" in needs
    assert "/invite_leader 是管理员的命令" in texts(await chat.message(S2, "/invite_leader X"))[0]
    assert "团长邀请码" not in "\n".join(texts(await chat.message(MERCHANT, "/invite_leader X")))


async def test_guided_chat_is_cancellable(chat, world) -> None:
    await make_leader(chat, LEADER, "星光")
    await chat.message(LEADER, "/activity new")
    await chat.message(LEADER, "双12")
    assert "已取消" in texts(await chat.message(LEADER, "/cancel"))[0]
    searched = texts(await chat.message(LEADER, "面霜"))  # plain text is a search again
    assert any("面霜" in x and "HI-1" in x for x in searched)
    [ask] = sent_to(await chat.message(LEADER, "/activity new"), LEADER)
    cancelled = await chat.callback(LEADER, button_data(ask, "取消"))
    assert any("已取消" in x for x in texts(cancelled))
    listing = texts(await chat.message(LEADER, "/activity"))
    assert "还没有招商活动" in listing[0]


async def test_one_activity_from_creation_to_the_team_streamers(chat, world) -> None:
    team = await make_leader(chat, LEADER, "星光")
    other_team = await make_leader(chat, OTHER, "月亮")
    await chat.message(S1, f"/start {team}")
    await chat.message(S2, f"/start {other_team}")
    await create_activity(chat)

    # The merchant sees it and submits: below the floor is refused with the reason.
    [listing] = sent_to(await chat.message(MERCHANT, "/activity"), MERCHANT)
    assert "双12" in listing.text and "星光" in listing.text and "≥20.0%" in listing.text
    refused = texts(await chat.message(MERCHANT, "/activity 1 LO-1"))
    assert "要求「美妆个护」佣金不低于 20.0%，这个商品是 10.0%" in refused[0]
    [picker] = sent_to(await chat.callback(MERCHANT, button_data(listing, "报名")), MERCHANT)
    submitted = await chat.callback(MERCHANT, button_data(picker, "HI-1"))
    assert any("已为「双12」报名" in x for x in texts(sent_to(submitted, MERCHANT)))
    [incoming] = sent_to(submitted, LEADER)
    assert "HI-1" in incoming.text and not sent_to(submitted, OTHER)
    approve = button_data(incoming, "通过")

    # Another 团长, the merchant and a streamer pressing approve: nothing happens.
    for presser in (OTHER, MERCHANT, S1):
        forged = await chat.callback(presser, approve)
        assert not sent_to(forged, MERCHANT) and not any(isinstance(r, EditMessageText) for r in forged)
    assert "待审核 1" in texts(await chat.callback(LEADER, ActCb(action="show", id=1).pack()))[0]
    assert "没有这个活动" in alerts(await chat.callback(OTHER, ActCb(action="show", id=1).pack()))[0]

    approved = await chat.callback(LEADER, approve)
    assert any("通过了招商活动「双12」" in x for x in texts(sent_to(approved, MERCHANT)))
    assert "已经处理过" in alerts(await chat.callback(LEADER, approve))[0]

    # The team's streamer finds it marked, in search and on the card; another team's does not.
    found = "\n".join(texts(await chat.message(S1, "面霜")))
    assert "团长活动「双12」· 活动佣金 30.0%" in found
    assert "团长活动" not in "\n".join(texts(await chat.message(S2, "面霜")))
    card = "\n".join(texts(await chat.message(S1, "/grade HI-1")))
    assert "团长活动「双12」" in card
    assert "团长活动" not in "\n".join(texts(await chat.message(S1, "/grade LO-1")))

    # Picks and the digest carry the mark for S1 alone (and never into a group chat).
    async with chat.services.sessionmaker() as session:
        context = await picks_context(chat.services.sessionmaker)
        today = local_today(utcnow(), zone_of(None, chat.services.settings.default_timezone))
        wanted = [(await profiles.get_profile(tid, session=session), today) for tid in (S1, S2)]
        mine, theirs = await batch_picks(session, context, wanted)
    assert set(mine.marks) == {"HI-1"} and theirs.marks == {}
    item = context.catalog.find("美妆个护", "HI-1")
    assert item is not None
    shown = dataclasses.replace(mine, picks=[Pick(item, "美妆个护", 0.1, 0.5, "platform")])
    assert "团长活动「双12」· 活动佣金 30.0%" in shown.as_text("zh", digest=True)
    assert "Activity “双12” · activity commission 30.0%" in shown.as_text("en")
    assert "团长活动" not in shown.without_exclusive().as_text("zh")

    figures = texts(await chat.callback(LEADER, ActCb(action="show", id=1).pack()))[0]
    assert "报名 1 · 通过 1 · 拒绝 0" in figures and "团队样品：申请 0" in figures


async def test_rejection_carries_the_reason_to_the_merchant(chat, world) -> None:
    await make_leader(chat, LEADER, "星光")
    await make_leader(chat, OTHER, "月亮")
    await create_activity(chat)
    submitted = await chat.message(MERCHANT, "/activity 1 LO-1 25%")
    [incoming] = sent_to(submitted, LEADER)
    reject = button_data(incoming, "拒绝")
    assert "已经处理过" in alerts(await chat.callback(OTHER, reject))[0]
    asked = texts(await chat.callback(LEADER, reject))
    assert any("拒绝报名 #1 的原因" in x for x in asked)
    told = await chat.message(LEADER, "佣金<还要>再高些")
    [merchant_note] = sent_to(told, MERCHANT)
    assert "未通过招商活动「双12」" in merchant_note.text and "佣金&lt;还要&gt;再高些" in merchant_note.text
    assert "已拒绝报名 #1" in sent_to(told, LEADER)[0].text


async def test_english_leader(chat, world) -> None:
    await make_leader(chat, LEADER, "Starlight", lang="en")
    team = "\n".join(texts(await chat.message(LEADER, "/team", lang="en")))
    assert (
        "Team leader <b>Starlight</b>'s team: 0 streamers" in team and "No streamer has joined yet." in team
    )
    asked = texts(await chat.message(LEADER, "/activity new", lang="en"))
    assert "What is it called?" in asked[0]
    await chat.message(LEADER, "Double 12", lang="en")
    assert "couldn't read that period" in texts(await chat.message(LEADER, "soon", lang="en"))[0]
