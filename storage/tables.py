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
    # Roles add up (storage.users.roles_of): everyone is a streamer; a merchant_id makes a merchant too.
    merchant_id: int | None = Field(default=None, foreign_key="merchant.id")
    name: str = Field(default="", max_length=200)
    username: str | None = Field(default=None, max_length=64)
    language: str = Field(default="zh", max_length=8)
    timezone: str | None = Field(default=None, max_length=64)
    digest_enabled: bool = True
    digest_time: str | None = Field(default=None, max_length=5)  # HH:MM; None = DIGEST_TIME
    active: bool = True  # False once Telegram says the user blocked the bot (403)
    chosen_categories: str = Field(default="", max_length=500)  # ';'-separated, for /categories
    discoverable: bool = False  # /profile: merchants may find this streamer through /match
    # A bound 团长 (/bind with a code from /invite_leader) adds the leader role; roles still add up.
    leader_id: int | None = Field(default=None, foreign_key="leader.id")
    team_id: int | None = Field(default=None, foreign_key="leader.id")  # the 团长 whose team they joined
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime = Field(default_factory=utcnow)


class Leader(SQLModel, table=True):
    """A 团长: recruits merchants into activities and brings a team of streamers (via a team link)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    team_code: str = Field(max_length=16, unique=True, index=True)
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class LeaderInvite(SQLModel, table=True):
    """A one-time code that binds a Telegram user as a 团长 (the leader twin of InviteCode)."""

    __tablename__ = "leader_invite"

    code: str = Field(primary_key=True, max_length=32)
    leader_id: int = Field(foreign_key="leader.id")
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    used_at: datetime | None = None


class Activity(SQLModel, table=True):
    """A 团长's 招商活动: open from `starts` through `ends` (dates, both included)."""

    __table_args__ = (Index("ix_activity_leader_ends", "leader_id", "ends"),)

    id: int | None = Field(default=None, primary_key=True)
    leader_id: int = Field(foreign_key="leader.id")
    name: str = Field(max_length=60)
    starts: date
    ends: date = Field(index=True)
    min_tier: str | None = Field(default=None, max_length=2)
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class ActivityFloor(SQLModel, table=True):
    """One of an activity's categories and its minimum commission (0..1)."""

    __tablename__ = "activity_floor"
    __table_args__ = (UniqueConstraint("activity_id", "category_id", name="uq_activity_floor"),)

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False)
    )
    category_id: int = Field(foreign_key="category.id")
    min_commission: float


class ActivitySubmission(SQLModel, table=True):
    """A merchant's product in an activity: submitted → approved | rejected (by the 团长)."""

    __tablename__ = "activity_submission"
    __table_args__ = (
        UniqueConstraint("activity_id", "product_id", name="uq_activity_product"),
        Index("ix_submission_activity_status", "activity_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    activity_id: int = Field(
        sa_column=Column(Integer, ForeignKey("activity.id", ondelete="CASCADE"), nullable=False)
    )
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    )
    merchant_id: int = Field(foreign_key="merchant.id")
    rate: float  # the commission the product carries in the activity
    tier: str = Field(max_length=2)  # the product's tier when submitted
    status: str = Field(default="submitted", max_length=16)
    reason: str | None = Field(default=None, max_length=300)
    submitted_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None


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
    revoked_at: datetime | None = None  # an admin withdrew it (told apart from expiry)


class DigestDelivery(SQLModel, table=True):
    """One digest per streamer and local date: the database is the source of truth."""

    __tablename__ = "digest_delivery"
    __table_args__ = (UniqueConstraint("telegram_id", "local_date", name="uq_digest_once_a_day"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    local_date: date = Field(index=True)
    status: str = Field(
        default="pending", max_length=16, index=True
    )  # pending|sending|sent|blocked|invalid|failed|skipped|unknown
    skus: str = Field(default="", max_length=500)
    attempts: int = 0
    message_id: int | None = None
    error: str | None = Field(default=None, max_length=300)
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Push(SQLModel, table=True):
    """An admin's targeted recommendation (官方小二定向推荐): its goods and segment are its identity."""

    __tablename__ = "push"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=500, unique=True)  # sorted skus + segment: the same push is the same row
    skus: str = Field(max_length=500)  # ';'-separated, in the admin's order
    segment: str = Field(max_length=8)  # all | gap | mix
    category: str | None = Field(default=None, max_length=64)
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None  # its recipients are fixed (rows made) when first confirmed


class PushDelivery(SQLModel, table=True):
    """One push per streamer: the digest's delivery states (storage.deliveries), keyed by push."""

    __tablename__ = "push_delivery"
    __table_args__ = (UniqueConstraint("push_id", "telegram_id", name="uq_push_once_per_streamer"),)

    id: int | None = Field(default=None, primary_key=True)
    push_id: int = Field(foreign_key="push.id", index=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    local_date: date  # the day its goods count as shown (so the digest does not repeat them)
    status: str = Field(default="pending", max_length=16, index=True)
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


class ExclusiveOffer(SQLModel, table=True):
    """A merchant's higher commission on one product for one streamer, until `expires_at` (专属佣金)."""

    __tablename__ = "exclusive_offer"
    __table_args__ = (
        UniqueConstraint("product_id", "streamer_id", name="uq_offer_product_streamer"),
        Index("ix_offer_streamer_expires", "streamer_id", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    )
    streamer_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    merchant_id: int = Field(foreign_key="merchant.id")
    rate: float
    expires_at: datetime
    offered_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    accepted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class MatchInvite(SQLModel, table=True):
    """A merchant invited a streamer found through /match (counted for the rate limits)."""

    __tablename__ = "match_invite"
    __table_args__ = (
        Index("ix_invite_merchant_created", "merchant_id", "created_at"),
        Index("ix_invite_streamer_created", "streamer_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id")
    streamer_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    )
    sent_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class MerchantMute(SQLModel, table=True):
    """A streamer never wants invitations or offers from this merchant again."""

    __tablename__ = "merchant_mute"
    __table_args__ = (UniqueConstraint("streamer_id", "merchant_id", name="uq_merchant_mute"),)

    id: int | None = Field(default=None, primary_key=True)
    streamer_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    merchant_id: int = Field(
        sa_column=Column(Integer, ForeignKey("merchant.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime = Field(default_factory=utcnow)


class SearchSynonym(SQLModel, table=True):
    """An operator's synonym or alias (`python -m bot synonyms import FILE`): `term` also finds `same_as`."""

    __tablename__ = "search_synonym"
    __table_args__ = (UniqueConstraint("term", "same_as", name="uq_search_synonym"),)
    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=100)
    same_as: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow)


class SampleRequest(SQLModel, table=True):
    """A streamer's request for a product sample (寄样) and where it stands (core.samples.Status)."""

    __tablename__ = "sample_request"
    __table_args__ = (
        Index("ix_sample_request_streamer_status", "streamer_id", "status"),
        Index("ix_sample_request_merchant_status", "merchant_id", "status"),
        Index("ix_sample_request_product_created", "product_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(
        sa_column=Column(Integer, ForeignKey("product.id", ondelete="CASCADE"), nullable=False)
    )
    merchant_id: int = Field(foreign_key="merchant.id")
    streamer_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    status: str = Field(default="requested", max_length=16, index=True)
    tracking: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=300)  # why it was rejected
    created_at: datetime = Field(default_factory=utcnow)
    changed_at: datetime = Field(default_factory=utcnow)  # entered the current status
    reminded_at: datetime | None = None  # the reminder for the current status went out


class SampleRule(SQLModel, table=True):
    """A merchant's rule for samples in one category: the streamer's 30-day GMV there must reach min_gmv."""

    __tablename__ = "sample_rule"
    __table_args__ = (UniqueConstraint("merchant_id", "category_id", name="uq_sample_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id")
    category_id: int = Field(foreign_key="category.id")
    min_gmv_30d: float
    updated_at: datetime = Field(default_factory=utcnow)
