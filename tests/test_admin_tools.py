"""/import (a document captioned /import), /regrade, /stats and /invite's revoke button, as an admin."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import Document
from sqlalchemy import func, update
from sqlmodel import select

from storage.tables import DigestDelivery, InviteCode, Product, TierChange, User
from tests.conftest import ADMIN_ID
from tests.factories import add_product, bind_merchant
from tests.harness import buttons, texts
from tests.test_import import PRODUCT_COLUMNS, product
from tests.test_merchant_handlers import of

MERCHANT, STREAMER = 222, 111


def csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PRODUCT_COLUMNS)
    for row in rows:
        writer.writerow([row.get(c, "") for c in PRODUCT_COLUMNS])
    return out.getvalue().encode("utf-8")


async def send_file(
    chat,
    user_id: int,
    data: bytes,
    *,
    name: str = "catalog.csv",
    caption: str = "/import",
    lang: str = "zh-hans",
) -> list[Any]:
    file_id = f"f{len(chat.session.files) + 1}"
    chat.session.files[file_id] = data
    document = Document(file_id=file_id, file_unique_id=file_id, file_name=name, file_size=len(data))
    return await chat.message(user_id, None, document=document, caption=caption, lang=lang)


async def count(services, model) -> int:
    async with services.sessionmaker() as session:
        return (await session.exec(select(func.count()).select_from(model))).one()


async def test_import_writes_reports_and_refreshes_search(chat, services) -> None:
    rows = [product(f"YG-{i}", merchant="M-A") for i in range(3)]
    sent = await send_file(chat, ADMIN_ID, csv_bytes(rows))
    reply = "\n".join(texts(sent))
    assert "共 3 行" in reply and "新增 3" in reply
    assert await count(services, Product) == 3
    assert services.catalog.version >= 1  # a fresh search index was swapped in


async def test_reimport_alerts_the_bound_merchant(chat, services) -> None:
    await send_file(
        chat, ADMIN_ID, csv_bytes([product("YG-1", merchant="M-A"), product("YG-2", merchant="M-A")])
    )
    async with services.sessionmaker() as session:
        await bind_merchant(session, MERCHANT, "M-A")
        await session.commit()
    worse = product("YG-1", merchant="M-A", refund_rate="0.3", dispute_rate="0.05", shop_rating="3.0")
    sent = await send_file(chat, ADMIN_ID, csv_bytes([worse, product("YG-2", merchant="M-A")]))
    alerts = [r for r in of(sent, "SendMessage") if r.chat_id == MERCHANT]
    assert len(alerts) == 1
    assert "YG-1" in alerts[0].text and "YG-2" not in alerts[0].text and "服务力" in alerts[0].text
    async with services.sessionmaker() as session:
        change = (await session.exec(select(TierChange).where(TierChange.old_tier.is_not(None)))).one()
    assert change.alerted_at is not None


async def test_a_file_with_bad_rows_writes_nothing_and_lists_them(chat, services) -> None:
    rows = [product("OK-1"), product("BAD-1", price="-3"), product("BAD-2", refund_rate="<b>lots</b>")]
    reply = "\n".join(texts(await send_file(chat, ADMIN_ID, csv_bytes(rows))))
    assert "第 3 行" in reply and "price" in reply and "第 4 行" in reply and "refund_rate" in reply
    assert "&lt;b&gt;lots&lt;/b&gt;" in reply  # the bad value is echoed, escaped
    assert await count(services, Product) == 0

    skipped = "\n".join(texts(await send_file(chat, ADMIN_ID, csv_bytes(rows), caption="/import skip")))
    assert "跳过" in skipped and await count(services, Product) == 1


async def test_a_long_error_report_comes_back_as_a_file(chat, services) -> None:
    rows = [product(f"BAD-{i}", price="free", refund_rate="2") for i in range(40)]
    sent = await send_file(chat, ADMIN_ID, csv_bytes(rows), lang="en")
    documents = of(sent, "SendDocument")
    assert len(documents) == 1
    report = documents[0].document.data.decode("utf-8")
    assert report.count("\n") >= 79 and "line 41, column price" in report
    assert "attached" in "\n".join(texts(sent))


async def test_dry_run_usage_and_unreadable_files(chat, services) -> None:
    dry = "\n".join(
        texts(await send_file(chat, ADMIN_ID, csv_bytes([product("D-1")]), caption="/import dry"))
    )
    assert "试运行" in dry and await count(services, Product) == 0
    assert "/import" in texts(await chat.message(ADMIN_ID, "/import"))[0]  # no file: how to send one
    old_excel = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    reply = "\n".join(texts(await send_file(chat, ADMIN_ID, old_excel, name="old.xls")))
    assert "无法读取" in reply and ".xlsx" in reply


async def test_streamer_sales_import(chat, services) -> None:
    data = "telegram_id,name,category,gmv_30d\n5001,小美,美妆个护,12000\n5001,小美,食品饮料,3000\n".encode()
    reply = "\n".join(texts(await send_file(chat, ADMIN_ID, data, name="s.csv", caption="/import streamers")))
    assert "主播销售" in reply and "新增 2" in reply


async def test_regrade_records_changes_and_alerts(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "R-1", merchant="M-A")
        await add_product(session, "R-2", merchant="M-A")
        await bind_merchant(session, MERCHANT, "M-A")
        await session.commit()
        # Indicators changed under the stored grade (as if edited by hand): a regrade moves the tier.
        await session.exec(
            update(Product).where(Product.sku == "R-1").values(refund_rate=0.4, shop_rating=2.0)
        )
        await session.commit()
    sent = await chat.message(ADMIN_ID, "/regrade")
    replies = [r.text for r in of(sent, "SendMessage") if r.chat_id == ADMIN_ID]
    assert any("重新评级 2 个商品" in r for r in replies)
    alerts = [r for r in of(sent, "SendMessage") if r.chat_id == MERCHANT]
    assert len(alerts) == 1 and "R-1" in alerts[0].text


async def test_stats(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "S-1", category="美妆个护", merchant="M-A")
        await add_product(session, "S-2", category="食品饮料", merchant="M-B", gmv_30d=0, brand_awareness=5)
        await bind_merchant(session, MERCHANT, "M-A")
        session.add(
            DigestDelivery(
                telegram_id=STREAMER, local_date=datetime.now(ZoneInfo("Asia/Shanghai")).date(), status="sent"
            )
        )
        await session.commit()
    await chat.message(STREAMER, "/start")
    await chat.message(ADMIN_ID, "/start")
    sent = await chat.message(ADMIN_ID, "/stats")
    text = texts(sent)[0]
    assert "共 2 个" in text and "美妆个护: 1" in text and "食品饮料: 1" in text
    assert "已启动机器人 2 位" in text  # the merchant user streams too; the admin is not counted
    assert "2 家，已绑定 1 家" in text and "送达 1" in text
    refresh = buttons(of(sent, "SendMessage")[0])[0][1]
    again = await chat.callback(ADMIN_ID, refresh)
    assert "共 2 个" in of(again, "EditMessageText")[0].text and of(again, "AnswerCallbackQuery")
    english = texts(await chat.message(ADMIN_ID, "/stats", lang="en"))[0]
    assert "Statistics" in english and "Products</b>: 2" in english


async def test_revoke_button_works_for_admins_only(chat, services) -> None:
    async with services.sessionmaker() as session:
        await add_product(session, "I-1", merchant="M-A")
        await session.commit()
    sent = await chat.message(ADMIN_ID, "/invite M-A")
    revoke = buttons(of(sent, "SendMessage")[0])[0][1]
    assert revoke is not None and len(revoke.encode()) <= 64

    replay = await chat.callback(STREAMER, revoke)
    assert "管理员" in of(replay, "AnswerCallbackQuery")[0].text and not of(replay, "EditMessageReplyMarkup")
    async with services.sessionmaker() as session:
        code = (await session.exec(select(InviteCode))).one()
    assert (
        "已绑定" in texts(await chat.message(MERCHANT, f"/bind {code.code}"))[0]
    )  # the replay revoked nothing

    second = buttons(of(await chat.message(ADMIN_ID, "/invite M-A"), "SendMessage")[0])[0][1]
    pressed = await chat.callback(ADMIN_ID, second)
    assert "已作废" in of(pressed, "AnswerCallbackQuery")[0].text and of(pressed, "EditMessageReplyMarkup")
    code2 = second.rsplit(":", 1)[1]
    assert "作废" in texts(await chat.message(444, f"/bind {code2}"))[0]  # revoked, not "expired"
    async with services.sessionmaker() as session:
        assert (await session.get(User, 444)) is None
