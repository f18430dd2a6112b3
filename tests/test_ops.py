"""Several replicas: updates answered once (Redis or in-process), catalog changes heard at once, one
replica telling merchants; operable: health, readiness, metrics, JSON logs."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Chat, Message, Update
from aiogram.types import User as TgUser
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from sqlmodel import select

from bot.dedup import UpdateDedup, UpdateGateMiddleware
from bot.demo_data import demo_products
from bot.dispatcher import fsm_storage
from bot.logs import JsonFormatter
from bot.metrics import MESSAGES_SENT, REGISTRY, TELEGRAM_429
from bot.runtime import GC_THRESHOLDS, settle_heap, unsettle_heap
from bot.services import Services, build_catalog_index
from bot.settings import Settings
from bot.web import build_web_app
from core.policy import default_policy
from core.search import search
from jobs.catalog_watch import check_catalog, follow_catalog_notices
from storage.engine import make_engine, make_sessionmaker
from storage.importer import import_product_rows
from storage.tables import Merchant, User
from tests.conftest import ADMIN_ID
from tests.harness import ChatHarness, texts
from tests.redisutil import SharedRedis

USER = 7001


def make_services(db, *, redis: Redis | None = None, prefix: str = "xuanpin") -> Services:
    settings = Settings(
        database_url=db.url, admin_ids=frozenset({ADMIN_ID}), redis_prefix=prefix, _env_file=None
    )  # type: ignore[call-arg]
    return Services(
        settings=settings,
        sessionmaker=db.sessionmaker,
        policy=default_policy(),
        catalog=build_catalog_index(),
        redis=redis,
    )


def start_update(update_id: int, user_id: int = USER) -> Update:
    user = TgUser(id=user_id, is_bot=False, first_name="主播", language_code="zh-hans")
    message = Message(
        message_id=update_id,
        date=int(time.time()),
        chat=Chat(id=user_id, type="private"),
        from_user=user,
        text="/start",
    )
    return Update(update_id=update_id, message=message)


def answers(harness: ChatHarness, chat_id: int = USER) -> list:
    return [r for r in harness.session.requests if getattr(r, "chat_id", None) == chat_id]


# --------------------------------------------------------------------------- de-duplication


async def test_an_update_posted_twice_is_answered_once_with_redis(
    sqlite_db, shared_redis: SharedRedis
) -> None:
    services = make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix)
    harness = ChatHarness(services)
    try:
        await harness.dp.feed_update(harness.bot, start_update(501))
        await harness.dp.feed_update(harness.bot, start_update(501))  # Telegram re-posts after a timeout
        assert len(answers(harness)) == 1
        assert await shared_redis.client.exists(f"{shared_redis.prefix}:update:501") == 1
        await harness.dp.feed_update(harness.bot, start_update(502))  # a new update is still answered
        assert len(answers(harness)) == 2
    finally:
        await harness.close()


async def test_two_replicas_sharing_redis_answer_an_update_once(sqlite_db, shared_redis: SharedRedis) -> None:
    other = shared_redis.connect()
    first = ChatHarness(make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix))
    second = ChatHarness(make_services(sqlite_db, redis=other, prefix=shared_redis.prefix))
    try:
        update = start_update(601)
        await asyncio.gather(
            first.dp.feed_update(first.bot, update), second.dp.feed_update(second.bot, update)
        )
        assert len(answers(first)) + len(answers(second)) == 1
        async with sqlite_db.sessionmaker() as session:
            assert (await session.get(User, USER)) is not None
    finally:
        await first.close()
        await second.close()
        await other.aclose()


async def test_without_redis_one_process_remembers_recent_updates(sqlite_db) -> None:
    harness = ChatHarness(make_services(sqlite_db))
    try:
        await harness.dp.feed_update(harness.bot, start_update(701))
        await harness.dp.feed_update(harness.bot, start_update(701))
        assert len(answers(harness)) == 1
    finally:
        await harness.close()


async def test_the_in_process_memory_is_bounded() -> None:
    dedup = UpdateDedup(capacity=3)
    assert [await dedup.first_time(i) for i in (1, 2, 3, 1)] == [True, True, True, False]
    assert await dedup.first_time(4) is True  # evicts the least recently seen: 2
    assert await dedup.first_time(2) is True
    assert await dedup.first_time(1) is False


async def test_redis_away_means_answering_rather_than_dropping() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        dedup = UpdateDedup(dead, prefix="nobody")
        assert await dedup.first_time(9) is True
        assert await dedup.first_time(9) is False  # still remembered in this process
    finally:
        await dead.aclose()


# --------------------------------------------------------------------------- catalog notices


def _shop_rows() -> list[dict]:
    rows = [
        r for r in demo_products() if r["counterfeit_flag"] == 0 and r["merchant"] == "云南白药官方旗舰店"
    ][:3]
    assert rows, "the demo catalog has this shop"
    return rows


async def _wait_until(condition, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling another object's state, not an event of ours
            await asyncio.sleep(0.02)


async def test_an_import_in_one_replica_refreshes_the_others_index_at_once(
    sqlite_db, shared_redis: SharedRedis
) -> None:
    other = shared_redis.connect()
    here = make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix)
    there = make_services(sqlite_db, redis=other, prefix=shared_redis.prefix)
    listening = asyncio.create_task(follow_catalog_notices(None, there))
    try:
        await _wait_until(lambda: there.catalog.data_version is not None)  # subscribed, first look done
        built = there.catalog.version
        new = dict(_shop_rows()[0], sku="NOTICE-1", title="冰川薄荷 限定款 牙膏")
        await import_product_rows(here.sessionmaker, [new])
        await here.catalog_changed(None)  # what the admin's /import does in this replica
        # No poll runs here: only the notice can bring the other replica up to date.
        await _wait_until(lambda: there.catalog.version > built)
        hits = search(there.catalog.current, "冰川薄荷 限定款").hits
        assert hits and hits[0].item.sku == "NOTICE-1"
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await other.aclose()


async def test_replicas_looking_at_once_tell_a_merchant_once(sqlite_db, shared_redis: SharedRedis) -> None:
    other = shared_redis.connect()
    replicas = [
        ChatHarness(make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix)),
        ChatHarness(make_services(sqlite_db, redis=other, prefix=shared_redis.prefix)),
    ]
    merchant_user = 5252
    try:
        rows = _shop_rows()
        await import_product_rows(sqlite_db.sessionmaker, rows)
        for r in replicas:
            await r.services.catalog.refresh(r.services.sessionmaker)
        async with sqlite_db.sessionmaker() as session:
            merchant = (
                await session.exec(select(Merchant).where(Merchant.code == rows[0]["merchant"]))
            ).one()
            session.add(User(telegram_id=merchant_user, role="merchant", merchant_id=merchant.id))
            await session.commit()
        await import_product_rows(sqlite_db.sessionmaker, [dict(rows[0], counterfeit_flag=1)])

        changed = await asyncio.gather(*(check_catalog(r.bot, r.services) for r in replicas))
        assert changed == [True, True], "both replicas brought their index up to date"
        told = [req for r in replicas for req in answers(r, merchant_user)]
        assert len(told) == 1 and rows[0]["sku"] in texts(told)[0]
    finally:
        for r in replicas:
            await r.close()
        await other.aclose()


# --------------------------------------------------------------------------- races on first contact


RACERS = 6


async def _race(db, operation) -> list:
    """Run `operation(session)` in RACERS sessions at once, each committing; the results.

    Every session has its connection and an open transaction before any of them starts, so their
    look-ups and inserts interleave (a select-then-insert fails here with a duplicate key)."""
    sessions = [db.sessionmaker() for _ in range(RACERS)]
    try:
        for session in sessions:
            await session.connection()

        async def one(session) -> object:
            result = await operation(session)
            await session.commit()
            return result

        return list(await asyncio.gather(*(one(s) for s in sessions)))
    finally:
        for session in sessions:
            await session.close()


async def test_first_contact_from_two_processes_at_once_makes_one_user(db) -> None:
    from storage.users import register

    results = await _race(db, lambda s: register(8001, name="主播", username=None, language="zh", session=s))
    assert [was_inactive for _, was_inactive in results] == [False] * RACERS
    async with db.sessionmaker() as session:
        rows = (await session.exec(select(User).where(User.telegram_id == 8001))).all()
    assert len(rows) == 1 and rows[0].active


@pytest.mark.parametrize("what", ["ensure_user", "not_interested", "picks", "watch"])
async def test_racing_inserts_are_upserts(db, what: str) -> None:
    from datetime import date

    from storage import pick_history, profiles, watches

    operations = {
        "ensure_user": lambda s: profiles.set_digest(8002, language="zh", enabled=False, session=s),
        "not_interested": lambda s: pick_history.mark_not_interested(8002, "SKU-1", session=s),
        "picks": lambda s: pick_history.record_picks(8002, ["A", "B"], date(2026, 11, 29), session=s),
        "watch": lambda s: watches.add_watch(8002, "brand", "云南白药", language="zh", session=s),
    }
    if what == "not_interested":
        await _race(db, lambda s: profiles.ensure_user(8002, language="zh", session=s))
    results = await _race(db, operations[what])
    async with db.sessionmaker() as session:
        if what == "ensure_user":
            user = await session.get(User, 8002)
            assert user is not None and user.digest_enabled is False
        elif what == "not_interested":
            assert sorted(results) == [False] * (RACERS - 1) + [True], "one remembered it, the rest found it"
        elif what == "picks":
            assert sorted(results) == [0] * (RACERS - 1) + [2]
            assert await pick_history.recent_pick_skus(
                [8002], since=date(2026, 11, 29), until=date(2026, 11, 30), session=session
            ) == {8002: {"A": date(2026, 11, 29), "B": date(2026, 11, 29)}}
        else:
            assert sorted(created for _, created in results) == [False] * (RACERS - 1) + [True]
            assert len(await watches.list_watches(8002, session=session)) == 1


# --------------------------------------------------------------------------- operable


async def test_health_readiness_and_metrics(sqlite_db, shared_redis: SharedRedis) -> None:
    services = make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix)
    harness = ChatHarness(services)
    client = TestClient(TestServer(build_web_app(services, token="123456:TEST")))
    await client.start_server()
    try:
        health = await client.get("/healthz")
        assert health.status == 200 and (await health.json())["status"] == "ok"
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert await ready.json() == {"status": "ok", "failed": [], "database": "ok", "redis": "ok"}

        await harness.dp.feed_update(harness.bot, start_update(801))
        MESSAGES_SENT.labels("reply", "sent").inc(0)  # what the outbound path counts through
        before_429 = TELEGRAM_429._value.get()
        page = await client.get("/metrics")
        assert page.status == 200 and page.content_type == "text/plain"
        body = await page.text()
        assert 'updates_handled_total{outcome="ok",type="message"}' in body
        assert 'update_handling_seconds_count{type="message"}' in body
        assert "telegram_429_total" in body and 'messages_sent_total{kind="reply",outcome="sent"}' in body
        assert TELEGRAM_429._value.get() == before_429
    finally:
        await client.close()
        await harness.close()


async def test_readiness_names_what_is_unreachable(tmp_path) -> None:
    dead_redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", _env_file=None)  # type: ignore[call-arg]
    services = Services(
        settings=settings,
        sessionmaker=make_sessionmaker(engine),
        policy=default_policy(),
        catalog=build_catalog_index(),
        redis=dead_redis,
    )
    client = TestClient(TestServer(build_web_app(services, token="123456:TEST")))
    await client.start_server()
    try:
        ready = await client.get("/readyz")
        assert ready.status == 503
        body = await ready.json()
        assert body["failed"] == ["database", "redis"]
        assert body["database"] == "unreachable" and body["redis"] == "unreachable"
        assert (await client.get("/healthz")).status == 200, "up, though not ready"
    finally:
        await client.close()
        await engine.dispose()
        await dead_redis.aclose()


def test_json_logs_are_one_object_per_line() -> None:
    formatter = JsonFormatter()
    try:
        raise ValueError("坏了\nsecond line")
    except ValueError:
        record = logging.LogRecord(
            "jobs.digest", logging.ERROR, __file__, 1, "sent %s of %s", (3, 5), sys.exc_info()
        )
    line = formatter.format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "jobs.digest"
    assert entry["message"] == "sent 3 of 5"
    assert "ValueError: 坏了" in entry["exc"]
    assert entry["time"].endswith("+00:00")
    plain = json.loads(formatter.format(logging.LogRecord("bot", logging.INFO, __file__, 1, "hi", (), None)))
    assert set(plain) == {"time", "level", "logger", "message"}


def test_metrics_registry_is_shared() -> None:
    names = {metric.name for metric in REGISTRY.collect()}
    assert {"messages_sent", "telegram_429", "updates_handled", "update_handling_seconds"} <= names


def test_container_recipe_runs_two_replicas_with_postgres_and_redis() -> None:
    """Docker cannot run here: the files are checked for what they must say."""
    import yaml

    from tests.processes import ROOT

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "\nUSER xuanpin" in dockerfile and 'CMD ["python", "-m", "bot", "run"]' in dockerfile

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "bot1", "bot2", "nginx"} <= set(services)
    for name in ("bot1", "bot2"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+asyncpg://") and "@postgres:" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert set(env) <= {name.upper() for name in Settings.model_fields}, "only real settings"
        assert services[name]["env_file"] == ".env"  # WEBHOOK_URL/SECRET and the token come from there
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server bot1:8080" in nginx and "server bot2:8080" in nginx and "location /webhook" in nginx
    assert any("nginx.conf" in volume for volume in services["nginx"]["volumes"])


async def test_a_cli_import_announces_the_change_to_running_replicas(
    sqlite_db, shared_redis: SharedRedis, tmp_path
) -> None:
    from argparse import Namespace

    from bot.cli import cmd_import
    from bot.services import catalog_channel

    rows = _shop_rows()[:2]
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(r[c]).replace(",", " ") for c in header) for r in rows]
    path = tmp_path / "products.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = Settings(
        database_url=sqlite_db.url,
        redis_url=shared_redis.url,
        redis_prefix=shared_redis.prefix,
        _env_file=None,
    )  # type: ignore[call-arg]
    pubsub = shared_redis.client.pubsub()
    await pubsub.subscribe(catalog_channel(settings))
    try:
        args = Namespace(kind="products", file=path, dry_run=True, skip_invalid=False)
        assert await cmd_import(settings, args) == 0
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5) is None, "a dry run"
        assert await cmd_import(settings, Namespace(**{**vars(args), "dry_run": False})) == 0
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
        assert message is not None and message["data"] == b"cli"
    finally:
        await pubsub.aclose()


async def test_a_conversation_waits_in_redis_so_any_replica_takes_the_answer(sqlite_db, shared_redis) -> None:
    asking = fsm_storage(make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix))
    answering = fsm_storage(make_services(sqlite_db, redis=shared_redis.client, prefix=shared_redis.prefix))
    alone = fsm_storage(make_services(sqlite_db))  # no Redis: the process keeps it
    key = StorageKey(bot_id=1, chat_id=7001, user_id=7001)
    await asking.set_state(key, "SampleInput:tracking")
    await asking.set_data(key, {"sample_id": 5})
    assert await answering.get_state(key) == "SampleInput:tracking"
    assert await answering.get_data(key) == {"sample_id": 5}
    assert await alone.get_state(key) is None


async def test_the_gate_bounds_the_updates_handled_at_once() -> None:
    """A webhook burst has no polling limit in front of it: the gate keeps the rest waiting."""
    gate = UpdateGateMiddleware(UpdateDedup(), in_flight=3)
    running, most = 0, 0
    release = asyncio.Event()

    async def handler(event, data):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1

    updates = [start_update(9000 + i, user_id=7000 + i) for i in range(10)]
    tasks = [asyncio.create_task(gate(handler, update, {})) for update in updates]
    for _ in range(20):
        await asyncio.sleep(0)
    assert most == 3 and running == 3  # the other seven wait at the gate
    release.set()
    await asyncio.gather(*tasks)
    assert most == 3 and running == 0


def test_the_heap_is_settled_once_started_and_given_back_when_stopped() -> None:
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold() == GC_THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        unsettle_heap()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
