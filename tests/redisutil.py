"""A Redis for tests: TEST_REDIS_URL (CI; unreachable then fails) or a local one (absent: skip).

Each test gets its own key prefix and deletes only its own keys, so parallel runs share one Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@dataclass
class SharedRedis:
    url: str
    prefix: str
    client: Redis

    def connect(self) -> Redis:
        """Another client on the same Redis (a second replica has its own connection)."""
        return Redis.from_url(self.url)


@pytest.fixture
async def shared_redis() -> AsyncIterator[SharedRedis]:
    url = os.environ.get("TEST_REDIS_URL")
    required = url is not None
    url = url or DEFAULT_REDIS
    client = Redis.from_url(url, socket_connect_timeout=3)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        if required:
            pytest.fail(f"TEST_REDIS_URL={url} is set but Redis does not answer: {exc}")
        pytest.skip(f"Redis is not reachable at {url} (CI sets TEST_REDIS_URL and requires it)")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield SharedRedis(url, prefix, client)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
