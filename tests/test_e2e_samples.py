"""End to end: one whole sample (request → approve → ship with a tracking number → received), the real
`python -m bot run` polling the fake Bot API over HTTP, then `python -m bot samples list --json`."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from tests.fakes.bot_api import FakeBotAPI
from tests.processes import (
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

STREAMER, MERCHANT, ADMIN = 4001, 4002, 4999


async def test_one_whole_sample_against_the_fake_bot_api(tmp_path: Path) -> None:
    env = child_env(tmp_path)
    done = cli(tmp_path, env, "import", "products", str(write_catalog(tmp_path / "products.csv")))
    assert done.returncode == 0, done.stderr
    async with FakeBotAPI() as api:
        api.message(ADMIN, "/invite M2")
        api.message(STREAMER, "/start")
        proc = await start_bot(tmp_path, api)
        try:
            invite = await wait_reply(api, proc, reply_to(ADMIN, "/bind"), STARTUP_SECONDS)
            code = bind_code(invite)
            await wait_reply(api, proc, reply_to(STREAMER, "选品助手"), 10)
            api.message(MERCHANT, f"/bind {code}")
            await wait_reply(api, proc, reply_to(MERCHANT, "已绑定商家"), 10)

            # The streamer opens the product's card and presses its 样品 button: the request goes at once.
            api.message(STREAMER, "/grade SAFE-1")
            photo = await wait_reply(api, proc, sent_to(STREAMER, "sendphoto", ""), 20)
            api.callback(STREAMER, button(photo, "样品"), message_id=photo.result["message_id"])
            incoming = await wait_reply(api, proc, sent_to(MERCHANT, "sendmessage", "新的样品申请"), 10)
            await wait_reply(api, proc, sent_to(STREAMER, "sendmessage", "已向商家"), 10)

            api.callback(MERCHANT, button(incoming, "同意"), message_id=incoming.result["message_id"])
            await wait_reply(api, proc, sent_to(STREAMER, "sendmessage", "同意了你的样品申请"), 10)
            edited = await wait_reply(api, proc, sent_to(MERCHANT, "editmessagetext", "已同意"), 10)

            api.callback(MERCHANT, button(edited, "已寄出"), message_id=edited.result["message_id"])
            await wait_reply(api, proc, sent_to(MERCHANT, "sendmessage", "快递单号"), 10)
            api.message(MERCHANT, "SF 1002-003 00")
            shipped = await wait_reply(api, proc, sent_to(STREAMER, "sendmessage", "SF 1002-003 00"), 10)

            api.callback(STREAMER, button(shipped, "已收到"), message_id=shipped.result["message_id"])
            await wait_reply(api, proc, sent_to(MERCHANT, "sendmessage", "已收到样品"), 10)
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    log = stderr.decode(errors="replace")
    assert proc.returncode == 0 and "Traceback" not in log, log[-3000:]
    menus = [
        c for c in api.calls_to("setMyCommands") if (c.params.get("scope") or {}).get("chat_id") == MERCHANT
    ]
    assert menus and any(cmd["command"] == "mygoods" for cmd in menus[-1].params["commands"])

    listed = cli(tmp_path, env, "samples", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {
            "id": 1,
            "sku": "SAFE-1",
            "streamer": STREAMER,
            "merchant": "M2",
            "status": "received",
            "tracking": "SF 1002-003 00",
        }
    ]
