"""Exclusive commissions, /match, invitations, mutes and /profile through the real dispatcher.

The privacy checks read every text the bot sent: a merchant never sees a streamer's exact GMV, an
offer reaches its streamer alone (not another streamer's picks, cards, search or inline results),
and forged or misdirected buttons do nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, AnswerInlineQuery, SendMessage
from sqlalchemy import update
from sqlmodel import select

from bot.keyboards import PickCb
from bot.picks import batch_picks, picks_context
from handlers.deals import InviteCb, MuteCb, OfferCb, ProfileCb
from storage import profiles
from storage.tables import ExclusiveOffer, MatchInvite, Merchant, Product, User, utcnow
from tests.factories import bind_merchant, get_or_add
from tests.harness import buttons, texts
from tests.test_digest_helpers import platform_with_peers, put_sales, put_user

OWNER, RIVAL = 222, 333
A, B, C = 4001, 4002, 4003  # A and C may be found; B may not
EXACT_GMV = ("123456", "123,456", "123 456", "12.35万", "12.3456", "¥123")


def sent_to(requests: list[Any], chat_id: int) -> list[SendMessage]:
    return [r for r in requests if isinstance(r, SendMessage) and r.chat_id == chat_id]


def alerts(requests: list[Any]) -> list[str]:
    return [r.text or "" for r in requests if isinstance(r, AnswerCallbackQuery)]


@pytest.fixture
async def deals(services) -> dict[str, int]:
    async with services.sessionmaker() as session:
        await platform_with_peers(session)
        await get_or_add(session, Merchant, code="M2")
        await bind_merchant(session, OWNER, "M1")
        await bind_merchant(session, RIVAL, "M2")
        await put_user(session, A, discoverable=True)
        await put_user(session, B)
        await put_user(session, C, discoverable=True, chosen_categories="家居百货")
        await put_sales(session, A, {"美妆个护": 123_456})
        await put_sales(session, B, {"美妆个护": 123_456})
        ids = {p.sku: p.id for p in (await session.exec(select(Product))).all()}
        ids["M1"] = (await session.exec(select(Merchant.id).where(Merchant.code == "M1"))).one()
        await session.commit()
    await services.catalog.refresh(services.sessionmaker)
    return ids


async def test_profile_is_off_by_default_and_toggles(chat, services, deals) -> None:
    [reply] = sent_to(await chat.message(B, "/profile"), B)
    assert "商家找不到你" in reply.text and "月销 5–20 万" in reply.text
    [(_label, data)] = buttons(reply)
    assert data == ProfileCb(on=1).pack()
    await chat.callback(B, data)
    async with services.sessionmaker() as session:
        assert (await session.get(User, B)).discoverable
    [reply] = sent_to(await chat.message(B, "/profile off", lang="en"), B)
    assert "cannot find you" in reply.text
    async with services.sessionmaker() as session:
        assert not (await session.get(User, B)).discoverable


async def test_match_lists_only_discoverable_streamers_with_bands_never_figures(chat, deals) -> None:
    requests = await chat.message(OWNER, "/match FOOD-L4-A")
    [reply] = sent_to(requests, OWNER)
    assert "user4001" in reply.text and "user4003" in reply.text and "user4002" not in reply.text
    assert "月销 5–20 万" in reply.text and "暂无销售数据" in reply.text
    for text in texts(requests):
        assert not any(mark in text for mark in EXACT_GMV), text
    invites = [data for _label, data in buttons(reply)]
    assert InviteCb(action="i", product_id=deals["FOOD-L4-A"], streamer_id=A).pack() in invites
    assert all(len(d.encode()) <= 64 for d in invites if d)
    # Someone else's product, and a streamer asking: nothing listed.
    [denied] = sent_to(await chat.message(RIVAL, "/match FOOD-L4-A"), RIVAL)
    assert "user4001" not in denied.text and "没有找到你名下的商品" in denied.text
    [streamer] = sent_to(await chat.message(A, "/match FOOD-L4-A"), A)
    assert (
        "没有这个命令" not in streamer.text and "商家" in streamer.text and "/bind" in streamer.text
    )  # role


async def test_invitations_recheck_rights_limits_and_mutes(chat, services, deals) -> None:
    invite = InviteCb(action="i", product_id=deals["FOOD-L4-A"], streamer_id=A).pack()
    # A rival merchant or a streamer replaying the button sends nothing.
    for presser in (RIVAL, B):
        requests = await chat.callback(presser, invite)
        assert not [r for r in requests if isinstance(r, SendMessage)] and alerts(requests)
    # Not discoverable: nothing sent.
    hidden = InviteCb(action="i", product_id=deals["FOOD-L4-A"], streamer_id=B).pack()
    assert not sent_to(await chat.callback(OWNER, hidden), B)
    # Malformed payloads under the prefix: a polite no.
    for forged in ("mt:i:abc:1", "mt:i:0:4001", "of:a:-1", "mu:x"):
        requests = await chat.callback(OWNER, forged)
        assert not [r for r in requests if isinstance(r, SendMessage)] and alerts(requests)

    requests = await chat.callback(OWNER, invite)
    [card] = sent_to(requests, A)
    assert "邀请你带这个商品" in card.text and "FOOD-L4-A" in card.text and "专属" not in card.text
    mute = MuteCb(merchant_id=deals["M1"]).pack()
    assert mute in [data for _label, data in buttons(card)]
    assert "已发送邀请" in alerts(requests)[0]
    again = await chat.callback(OWNER, invite)
    assert not sent_to(again, A) and "已经" in alerts(again)[0]

    services.settings.match_invites_per_streamer_day = 1
    second = InviteCb(action="i", product_id=deals["FOOD-L4-B"], streamer_id=A).pack()
    limited = await chat.callback(OWNER, second)
    assert not sent_to(limited, A) and "够多" in alerts(limited)[0]
    services.settings.match_invites_per_streamer_day = 3
    services.settings.match_invites_per_merchant_day = 1
    limited = await chat.callback(OWNER, second)
    assert not sent_to(limited, A) and "上限" in alerts(limited)[0]
    services.settings.match_invites_per_merchant_day = 20

    # The streamer mutes the merchant: never listed or invited by them again.
    assert "已屏蔽" in alerts(await chat.callback(A, mute))[0]
    [listing] = sent_to(await chat.message(OWNER, "/match FOOD-L4-A"), OWNER)
    assert "user4001" not in listing.text and "user4003" in listing.text
    assert not sent_to(await chat.callback(OWNER, second), A)
    assert not sent_to(await chat.message(OWNER, f"/offer FOOD-L5-A {A} 35 7"), A)
    async with chat.services.sessionmaker() as session:
        assert len((await session.exec(select(MatchInvite))).all()) == 1


async def test_an_offer_reaches_its_streamer_alone_and_lapses(chat, services, deals) -> None:
    # Bad input: a rival's product, a rate not above the public one, the merchant's own user.
    assert (
        "没有找到你名下的商品"
        in sent_to(await chat.message(RIVAL, f"/offer FOOD-L5-B {A} 35 7"), RIVAL)[0].text
    )
    assert "高于公开佣金" in sent_to(await chat.message(OWNER, f"/offer FOOD-L5-B {A} 10 7"), OWNER)[0].text
    assert "天数" in sent_to(await chat.message(OWNER, f"/offer FOOD-L5-B {A} 35 0"), OWNER)[0].text
    # Roles add up: a merchant user streams too, but nobody gets an offer on their own merchant's goods.
    assert "无法" in sent_to(await chat.message(OWNER, f"/offer FOOD-L5-B {OWNER} 35 7"), OWNER)[0].text
    assert "用法" in sent_to(await chat.message(OWNER, "/offer FOOD-L5-B"), OWNER)[0].text

    requests = await chat.message(OWNER, f"/offer FOOD-L5-B {A} 35% 7")
    [told] = sent_to(requests, A)
    assert "专属佣金" in told.text and "专属 35.0%" in told.text
    [receipt] = sent_to(requests, OWNER)
    assert "35.0%" in receipt.text and "user4001" in receipt.text
    assert not sent_to(requests, B)
    async with services.sessionmaker() as session:
        offer = (await session.exec(select(ExclusiveOffer))).one()
    accept = OfferCb(action="a", id=offer.id).pack()
    assert accept in [data for _label, data in buttons(told)]

    # A's picks show and rank it (FOOD-L5-B before FOOD-L5-A); B's picks, cards, search, inline never do.
    [mine] = sent_to(await chat.message(A, "/picks"), A)
    assert "专属 35.0%" in mine.text and mine.text.index("FOOD-L5-B") < mine.text.index("FOOD-L5-A")
    theirs = sent_to(await chat.message(B, "/picks"), B)[0].text
    assert (
        "专属" not in theirs and "35" not in theirs and theirs.index("FOOD-L5-A") < theirs.index("FOOD-L5-B")
    )
    detail = PickCb(action="d", id=deals["FOOD-L5-B"]).pack()
    assert "专属 35.0%" in sent_to(await chat.callback(A, detail), A)[0].text
    assert "专属 35.0%" in sent_to(await chat.message(A, "/grade FOOD-L5-B"), A)[0].text
    # The card opened from a search result says it too, to A alone.
    for streamer, shown in ((A, True), (B, False)):
        [results] = sent_to(await chat.message(streamer, "FOOD-L5-B"), streamer)
        assert "FOOD-L5-B" in results.text and ("专属 35.0%" in results.text) is shown  # the list, too
        [named] = sent_to(await chat.message(streamer, "/grade 食品饮料好货 L5"), streamer)  # a name: results
        assert "FOOD-L5-B" in named.text and ("专属 35.0%" in named.text) is shown, named.text
        opened = next(data for _label, data in buttons(results) if data and data.startswith("so:"))
        card = " ".join(texts(await chat.callback(streamer, opened)))
        assert "FOOD-L5-B" in card and ("专属 35.0%" in card) is shown
    # Never in a group, even for A: everybody there would read it.
    in_group = texts(await chat.message(A, "/grade FOOD-L5-B", chat_type="group", chat_id=-100))
    group_picks = texts(await chat.message(A, "/picks", chat_type="group", chat_id=-100))
    assert any("FOOD-L5-B" in text for text in group_picks)
    in_group += group_picks
    assert in_group and all("专属" not in text for text in in_group)
    seen_by_b = texts(await chat.callback(B, detail))
    seen_by_b += texts(await chat.message(B, "/grade FOOD-L5-B"))
    found = texts(await chat.message(B, "FOOD-L5-B"))
    assert any("FOOD-L5-B" in text for text in found)
    seen_by_b += found
    seen_by_b += texts(await chat.message(RIVAL, "/grade FOOD-L5-B"))
    inline = [r for r in await chat.inline(B, "FOOD-L5-B") if isinstance(r, AnswerInlineQuery)]
    cards = [str(result.input_message_content) for r in inline for result in r.results]
    assert any("FOOD-L5-B" in card for card in cards)
    seen_by_b += cards
    assert seen_by_b and all("专属" not in text and "35.0%" not in text for text in seen_by_b)

    # The digest carries it the same way, for A alone.
    context = await picks_context(services.sessionmaker)
    async with services.sessionmaker() as session:
        pa = await profiles.get_profile(A, session=session)
        pb = await profiles.get_profile(B, session=session)
        day = utcnow().date()
        ra, rb = await batch_picks(session, context, [(pa, day), (pb, day)])
    assert "专属 35.0%" in ra.as_text("zh", digest=True) and "专属" not in rb.as_text("zh", digest=True)
    assert "exclusive 35.0%" in ra.as_text("en", digest=True)

    # Only A can accept; the merchant hears of it.
    forged = await chat.callback(B, accept)
    assert not [r for r in forged if isinstance(r, SendMessage)] and "失效" in alerts(forged)[0]
    accepted = await chat.callback(A, accept)
    assert "已接受" in alerts(accepted)[0]
    [note] = sent_to(accepted, OWNER)
    assert "接受" in note.text and "FOOD-L5-B" in note.text and not sent_to(accepted, RIVAL)

    # The period ends: gone everywhere, by itself.
    async with services.sessionmaker() as session:
        await session.exec(update(ExclusiveOffer).values(expires_at=utcnow() - timedelta(minutes=1)))
        await session.commit()
    assert "专属" not in sent_to(await chat.message(A, "/picks"), A)[0].text
    assert "专属" not in sent_to(await chat.message(A, "FOOD-L5-B"), A)[0].text
    assert "失效" in alerts(await chat.callback(A, accept))[0]
