"""Who is calling the Mini App's API: Telegram's signed initData, checked with the bot token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data

# PRODUCT.md: initData older than this is stale (a link opened yesterday must be reopened).
MAX_AGE = timedelta(hours=24)
# A clock a little ahead of ours is Telegram's, not a forgery.
CLOCK_SKEW = timedelta(minutes=5)


class AuthError(ValueError):
    """initData is missing, forged or stale; the reason is for the log, never for the client."""


def check_init_data(token: str, raw: str | None, *, now: datetime | None = None) -> WebAppInitData:
    """The parsed initData when its signature is the bot's and it is fresh, else AuthError."""
    if not raw:
        raise AuthError("missing initData")
    try:
        data = safe_parse_webapp_init_data(token, raw)
    except ValueError as exc:
        raise AuthError("initData signature does not match") from exc
    if data.user is None:
        raise AuthError("initData names no user")
    now = now or datetime.now(UTC)
    signed = data.auth_date if data.auth_date.tzinfo else data.auth_date.replace(tzinfo=UTC)
    if now - signed > MAX_AGE or signed - now > CLOCK_SKEW:
        raise AuthError("initData is stale")
    return data
