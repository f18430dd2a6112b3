"""Prometheus metrics: one registry for the process, served at /metrics (bot/web.py).

Anything may count through these (the outbound path, the digest, the update middleware); they are
plain prometheus-client objects on a registry of our own, so tests can read them and nothing of the
client library's default process collectors leaks in twice.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES = Counter(
    "updates_handled_total",
    "Telegram updates handled, by update type and outcome (ok, error, duplicate).",
    ["type", "outcome"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "update_handling_seconds",
    "Time from an update entering the dispatcher to its handler returning, by update type.",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
MESSAGES_SENT = Counter(
    "messages_sent_total",
    "Messages the bot sent, by kind (reply, digest, alert, …) and outcome (sent, blocked, failed, …).",
    ["kind", "outcome"],
    registry=REGISTRY,
)
TELEGRAM_429 = Counter(
    "telegram_429_total", "Requests Telegram refused with 429 (flood control).", registry=REGISTRY
)
DIGEST_ROWS = Counter(
    "digest_rows_total",
    "Digest rows finished by the passes of this process, by outcome (sent, blocked, skipped, …).",
    ["outcome"],
    registry=REGISTRY,
)
DIGEST_PASSES = Counter("digest_passes_total", "Digest passes this process ran.", registry=REGISTRY)
DIGEST_LAST_PASS = Gauge(
    "digest_last_pass_end_seconds", "Unix time the last digest pass of this process ended.", registry=REGISTRY
)
CATALOG_REFRESHES = Counter(
    "catalog_refreshes_total",
    "Search index rebuilds, by what caused them (local, notified, poll).",
    ["cause"],
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
