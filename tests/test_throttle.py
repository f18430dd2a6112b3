"""Guessable commands (/bind CODE) are throttled per user: in memory, in Redis across replicas, and
a Redis outage never locks anyone out."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from bot.throttle import MemoryThrottle, RedisThrottle, Verdict, make_throttle
from tests.harness import texts

REDIS_URL = "redis://127.0.0.1:6379/0"
STREAMER, OTHER = 111, 112


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_throttle_allows_a_few_then_tells_once_then_resets() -> None:
    clock = Clock()
    throttle = MemoryThrottle(3, 60, clock=clock)
    assert [await throttle.hit("bind:1") for _ in range(3)] == [Verdict(allowed=True)] * 3
    clock.now += 10
    assert await throttle.hit("bind:1") == Verdict(allowed=False, wait=50, tell=True)
    assert await throttle.hit("bind:1") == Verdict(allowed=False, wait=50, tell=False)  # no second answer
    assert (await throttle.hit("bind:2")).allowed  # per user
    clock.now += 50
    assert (await throttle.hit("bind:1")).allowed  # a new window


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test-throttle:{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_the_redis_throttle_holds_across_replicas(redis_prefix: str) -> None:
    replicas = [make_throttle(3, 60, redis_url=REDIS_URL, prefix=redis_prefix) for _ in range(2)]
    try:
        verdicts = [await replicas[i % 2].hit("bind:7") for i in range(5)]
        assert [v.allowed for v in verdicts] == [True, True, True, False, False]
        assert verdicts[3].tell and not verdicts[4].tell and 55 <= verdicts[3].wait <= 60
        assert (await replicas[1].hit("bind:8")).allowed
        client = Redis.from_url(REDIS_URL)
        try:
            assert int(await client.get(redis_prefix + "bind:7")) == 5
            assert 0 < await client.ttl(redis_prefix + "bind:7") <= 60
        finally:
            await client.aclose()
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_redis_outage_falls_back_to_counting_in_this_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = make_throttle(2, 60, redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    assert isinstance(throttle, RedisThrottle)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.throttle"):
            verdicts = [await throttle.hit("bind:9") for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, False, False]  # nobody locked out, still bounded
        warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
        assert len(warnings) == 1  # one line per outage, not one per try
    finally:
        await throttle.close()


async def test_bind_guesses_are_throttled_with_one_wait_answer(chat, services) -> None:
    replies = [texts(await chat.message(STREAMER, f"/bind GUESS{i:04d}")) for i in range(7)]
    assert all("不存在" in r[0] for r in replies[:5])
    assert len(replies[5]) == 1 and "秒后再试" in replies[5][0] and "不存在" not in replies[5][0]
    assert replies[6] == []  # one answer, not one per try
    assert "不存在" in texts(await chat.message(OTHER, "/bind GUESS0000"))[0]  # per user
    english = [texts(await chat.message(OTHER + 1, f"/bind X{i}", lang="en")) for i in range(6)]
    assert english[4][0].startswith("There's no invite code X4")
    assert english[5][0].startswith("Too many tries: please wait")


async def test_two_replicas_share_the_bind_throttle_through_redis(services, redis_prefix: str) -> None:
    from tests.harness import ChatHarness

    replicas = []
    for _ in range(2):
        throttle = make_throttle(5, 60, redis_url=REDIS_URL, prefix=redis_prefix)
        replicas.append(ChatHarness(replace(services, throttle=throttle)))
    try:
        replies = [texts(await replicas[i % 2].message(STREAMER, f"/bind GUESS{i:04d}")) for i in range(7)]
        assert all("不存在" in r[0] for r in replies[:5])
        assert "秒后再试" in replies[5][0] and replies[6] == []
    finally:
        for harness in replicas:
            await harness.close()
            assert harness.services.throttle is not None
            await harness.services.throttle.close()
