"""End to end: one whole activity (create → submit → approve → a team streamer finds the product with
the activity's mark), the real `python -m bot run` polling the fake Bot API over HTTP, then
`python -m bot activity list --json`."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from pathlib import Path

from tests.fakes.bot_api import BOT_USERNAME, FakeBotAPI
from tests.processes import (
    ADMIN,
    STARTUP_SECONDS,
    bind_code,
    button,
    child_env,
    cli,
    reply_to,
    sent_to,
    start_bot,
    wait_reply,
    write_catalog,
)

LEADER, MERCHANT, STREAMER = 5001, 5002, 5003


async def test_one_whole_activity_against_the_fake_bot_api(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    done = cli(tmp_path, env, "import", "products", str(write_catalog(tmp_path / "products.csv")))
    assert done.returncode == 0, done.stderr
    async with FakeBotAPI() as api:
        api.message(ADMIN, "/invite_leader 星光团队")
        api.message(ADMIN, "/invite M1")
        proc = await start_bot(tmp_path, api)
        try:
            leader_code = await wait_reply(api, proc, reply_to(ADMIN, "团长"), STARTUP_SECONDS)
            code = bind_code(leader_code)
            merchant_code = await wait_reply(api, proc, reply_to(ADMIN, "商家"), 10)
            m_code = bind_code(merchant_code)
            api.message(LEADER, f"/bind {code}")
            await wait_reply(api, proc, reply_to(LEADER, "你已成为团长"), 10)
            api.message(MERCHANT, f"/bind {m_code}")
            await wait_reply(api, proc, reply_to(MERCHANT, "已绑定商家"), 10)

            # The 团长's team link; the streamer opens it.
            api.message(LEADER, "/team")
            team = await wait_reply(api, proc, reply_to(LEADER, "点开即加入"), 10)
            link = re.search(rf"t\.me/{BOT_USERNAME}\?start=(team_[\w-]+)", team.result["text"])
            assert link is not None, team.result["text"]
            api.message(STREAMER, f"/start {link.group(1)}")
            await wait_reply(api, proc, reply_to(STREAMER, "你已加入团长"), 10)

            # The guided chat.
            api.message(LEADER, "/activity new")
            await wait_reply(api, proc, reply_to(LEADER, "活动名称"), 10)
            api.message(LEADER, "双12 个护节")
            await wait_reply(api, proc, reply_to(LEADER, "第 2 步"), 10)
            api.message(LEADER, "14")
            await wait_reply(api, proc, reply_to(LEADER, "第 3 步"), 10)
            api.message(LEADER, "个护 25%")
            tiers = await wait_reply(api, proc, sent_to(LEADER, "sendmessage", "第 4 步"), 10)
            api.callback(LEADER, button(tiers, "不限"), message_id=tiers.result["message_id"])
            confirm = await wait_reply(api, proc, sent_to(LEADER, "sendmessage", "请确认"), 10)
            api.callback(LEADER, button(confirm, "创建"), message_id=confirm.result["message_id"])
            await wait_reply(api, proc, sent_to(LEADER, "editmessagetext", "已创建招商活动 #1"), 10)

            # The merchant submits; the 团长 approves; the merchant is told.
            api.message(MERCHANT, "/activity 1 YG-001")
            incoming = await wait_reply(api, proc, sent_to(LEADER, "sendmessage", "YG-001"), 10)
            await wait_reply(api, proc, reply_to(MERCHANT, "已为「双12 个护节」报名"), 10)
            api.callback(LEADER, button(incoming, "通过"), message_id=incoming.result["message_id"])
            await wait_reply(api, proc, reply_to(MERCHANT, "通过了招商活动"), 10)

            # The team's streamer finds the product with the activity's mark.
            api.message(STREAMER, "牙膏")
            await wait_reply(api, proc, reply_to(STREAMER, "团长活动「双12 个护节」· 活动佣金 30.0%"), 10)
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = stderr.decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in log, log[-3000:]

    listed = cli(tmp_path, env, "activity", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert {k: row[k] for k in ("id", "leader", "name", "approved", "submitted")} == {
        "id": 1,
        "leader": "星光团队",
        "name": "双12 个护节",
        "approved": 1,
        "submitted": 1,
    }
    assert set(row) == {"id", "leader", "name", "starts", "ends", "approved", "submitted"}
