"""SQLModel tables. Every Telegram id is a BIGINT (they outgrow 32 bits)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _tg_id(*, primary_key: bool = False, index: bool = False, nullable: bool = False):
    return Field(
        sa_column=Column(
            BigInteger, primary_key=primary_key, index=index, nullable=nullable, autoincrement=False
        )
    )


class Merchant(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)  # as in the import's `merchant` column
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class Category(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)


class Product(SQLModel, table=True):
    __table_args__ = (
        Index("ix_product_category_tier", "category_id", "tier"),
        Index("ix_product_merchant_tier", "merchant_id", "tier"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True, index=True)
    title: str = Field(max_length=300)
    brand: str = Field(max_length=100, index=True)
    category_id: int = Field(foreign_key="category.id")
    merchant_id: int = Field(foreign_key="merchant.id")
    price: float
    # The 11 indicators.
    brand_authorized: int
    brand_awareness: float
    price_index: float
    lowest_price_ratio: float
    commission_rate: float
    active_streamers_30d: int
    shop_rating: float
    refund_rate: float
    dispute_rate: float
    gmv_30d: float
    conversion_rate: float
    # The gates.
    factory_verified: int = 0
    counterfeit_flag: int = 0
    image_url: str | None = Field(default=None, max_length=500)
    tags: str = Field(default="", max_length=200)  # ';'-separated, as imported
    listed_at: date | None = None
    # The grade, as of the last regrade.
    dim_brand: float = 0
    dim_price: float = 0
    dim_distribution: float = 0
    dim_service: float = 0
    dim_sales: float = 0
    score: float = 0
    tier: str = Field(default="L0", max_length=2, index=True)
    badges: str = Field(default="", max_length=200)  # ';'-separated
    policy_version: str = Field(default="", max_length=32)
    graded_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class TierChange(SQLModel, table=True):
    """One regrade that changed a product's tier; the first grade has no old tier."""

    __tablename__ = "tier_change"

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("product.id", ondelete="CASCADE"), index=True)
    )
    old_tier: str | None = Field(default=None, max_length=2)
    new_tier: str = Field(max_length=2)
    old_score: float | None = None
    new_score: float
    moved_dimension: str | None = Field(default=None, max_length=16)  # the dimension that moved most
    moved_by: float | None = None
    reason: str = Field(default="import", max_length=32)  # import | regrade | policy
    changed_at: datetime = Field(default_factory=utcnow, index=True)
    alerted_at: datetime | None = None  # when the merchant was told


class User(SQLModel, table=True):
    """Anyone who has started the bot."""

    telegram_id: int = _tg_id(primary_key=True)
    role: str = Field(default="streamer", max_length=16)  # streamer | merchant | admin
    merchant_id: int | None = Field(default=None, foreign_key="merchant.id")
    name: str = Field(default="", max_length=200)
    username: str | None = Field(default=None, max_length=64)
    language: str = Field(default="zh", max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    digest_enabled: bool = True
    digest_time: str | None = Field(default=None, max_length=5)  # HH:MM; None = DIGEST_TIME
    active: bool = True  # False once Telegram says the user blocked the bot (403)
    chosen_categories: str = Field(default="", max_length=500)  # ';'-separated, for /categories
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime = Field(default_factory=utcnow)


class Streamer(SQLModel, table=True):
    """A streamer known from imported sales (may not have started the bot yet)."""

    telegram_id: int = _tg_id(primary_key=True)
    name: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)


class StreamerSale(SQLModel, table=True):
    __tablename__ = "streamer_sale"
    __table_args__ = (UniqueConstraint("telegram_id", "category_id", name="uq_streamer_sale"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("streamer.telegram_id", ondelete="CASCADE"), index=True)
    )
    category_id: int = Field(foreign_key="category.id")
    gmv_30d: float


class InviteCode(SQLModel, table=True):
    __tablename__ = "invite_code"

    code: str = Field(primary_key=True, max_length=32)
    merchant_id: int = Field(foreign_key="merchant.id")
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    used_at: datetime | None = None


class DigestDelivery(SQLModel, table=True):
    """One digest per streamer and local date: the database is the source of truth."""

    __tablename__ = "digest_delivery"
    __table_args__ = (UniqueConstraint("telegram_id", "local_date", name="uq_digest_once_a_day"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    local_date: date = Field(index=True)
    status: str = Field(
        default="pending", max_length=16, index=True
    )  # pending|sending|sent|blocked|invalid|failed
    skus: str = Field(default="", max_length=500)
    attempts: int = 0
    message_id: int | None = None
    error: str | None = Field(default=None, max_length=300)
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PickSent(SQLModel, table=True):
    """A product shown to a streamer as a pick (so it is not repeated within 14 days)."""

    __tablename__ = "pick_sent"
    # Unique, so recording a pick is an upsert; leads with (telegram_id, sent_on) for the day's lookups.
    __table_args__ = (Index("uq_pick_sent_streamer_day_sku", "telegram_id", "sent_on", "sku", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sku: str = Field(max_length=64)
    sent_on: date


class NotInterested(SQLModel, table=True):
    __tablename__ = "not_interested"
    __table_args__ = (UniqueConstraint("telegram_id", "sku", name="uq_not_interested"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    sku: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class Watch(SQLModel, table=True):
    """A streamer's watch on a product (kind=product, target=sku) or a brand (kind=brand)."""

    __table_args__ = (UniqueConstraint("telegram_id", "kind", "target", name="uq_watch"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    kind: str = Field(max_length=8)
    target: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class WatchState(SQLModel, table=True):
    """What a watcher was last told about one product, so only real rises alert."""

    __tablename__ = "watch_state"
    __table_args__ = (UniqueConstraint("watch_id", "sku", name="uq_watch_state"),)

    id: int | None = Field(default=None, primary_key=True)
    watch_id: int = Field(
        sa_column=Column(Integer, ForeignKey("watch.id", ondelete="CASCADE"), nullable=False)
    )
    sku: str = Field(max_length=64)
    tier: str = Field(max_length=2)
    commission_rate: float
