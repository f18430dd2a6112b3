"""Settings: one pydantic-settings class read from the environment or `.env`."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TELEGRAM_API_URL = "https://api.telegram.org"
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")
_PLACEHOLDERS = {"", "changeme", "your-token-here", "123456:replace-me", "<token>"}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    telegram_api_url: str = TELEGRAM_API_URL
    database_url: str = "sqlite+aiosqlite:///xuanpin.db"
    redis_url: str | None = None
    redis_prefix: str = "xuanpin"  # every Redis key and channel starts with it (one Redis, many bots)
    log_format: Literal["text", "json"] = "text"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    default_timezone: str = "Asia/Shanghai"
    digest_time: time = time(9, 0)
    digest_rate: float = Field(25.0, gt=0, le=1000)
    digest_paid_broadcast: bool = False
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    policy_file: str | None = None
    # Samples (寄样): limits, and how long a request may wait for the other side.
    sample_max_open: int = Field(5, ge=1, le=100)
    sample_per_product_day: int = Field(20, ge=1, le=10_000)
    sample_remind_hours: float = Field(48, gt=0)
    sample_expire_hours: float = Field(120, gt=0)
    # What one upload may cost (storage/importer/limits.py); bot/services.import_limits passes them on.
    import_max_bytes: int = Field(20 << 20, gt=0)
    import_max_unzipped_bytes: int = Field(200 << 20, gt=0)
    import_max_ratio: float = Field(100.0, gt=1)
    import_max_rows: int = Field(300_000, gt=1)
    import_max_columns: int = Field(200, gt=0)
    import_max_cell_chars: int = Field(10_000, gt=0)
    import_max_price: float = Field(1_000_000.0, gt=0)
    import_max_gmv: float = Field(100_000_000_000.0, gt=0)
    # Commands whose argument can be guessed (/bind CODE): tries per user per window.
    guess_tries: int = Field(5, gt=0)
    guess_window_seconds: int = Field(60, gt=0)
    match_invites_per_merchant_day: int = Field(20, ge=0, le=10_000)
    match_invites_per_streamer_day: int = Field(3, ge=0, le=1_000)
    offer_max_days: int = Field(90, ge=1, le=3650)
    webapp_url: str | None = None  # public https URL of the Mini App (served at /app/ on WEBHOOK_PORT)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return frozenset(int(p) for p in parts)
            except ValueError as exc:
                raise ValueError("ADMIN_IDS must be Telegram user ids separated by commas") from exc
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"DEFAULT_TIMEZONE {value!r} is not an IANA time zone such as Asia/Shanghai"
            ) from exc
        return value

    @field_validator("redis_url", "webhook_url", "policy_file", "webapp_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("bot_token", "webhook_secret", mode="before")
    @classmethod
    def _empty_secret_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _rate_within_telegram_limits(self) -> Settings:
        if self.digest_rate > 30 and not self.digest_paid_broadcast:
            raise ValueError(
                "DIGEST_RATE above 30 messages/s needs DIGEST_PAID_BROADCAST=true (Telegram's paid broadcast)"
            )
        return self

    def require_token(self) -> str:
        """The bot token, or a SettingsError that says what is wrong with it."""
        if self.bot_token is None:
            raise SettingsError(
                "BOT_TOKEN is not set: put the token @BotFather gave you in .env or the environment"
            )
        token = self.bot_token.get_secret_value().strip()
        if token.lower() in _PLACEHOLDERS:
            raise SettingsError(
                "BOT_TOKEN is still the placeholder from .env.example: set your real bot token"
            )
        if not _TOKEN_RE.match(token):
            raise SettingsError(
                "BOT_TOKEN is malformed: it looks like 123456789:AAH… (digits, a colon, then the secret)"
            )
        return token

    def require_webhook(self) -> tuple[str, str]:
        if not self.webhook_url:
            raise SettingsError("WEBHOOK_URL is not set")
        if not self.webhook_url.startswith("https://"):
            raise SettingsError("WEBHOOK_URL must be an https:// address Telegram can reach")
        if self.webhook_secret is None or len(self.webhook_secret.get_secret_value()) < 16:
            raise SettingsError("WEBHOOK_SECRET must be set (at least 16 characters) when WEBHOOK_URL is set")
        return self.webhook_url, self.webhook_secret.get_secret_value()

    @field_validator("webapp_url")
    @classmethod
    def _check_webapp_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError(
                "WEBAPP_URL must be an https:// address (Telegram opens Mini Apps only over https)"
            )
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's errors into one readable SettingsError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{name}: {err['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from exc
