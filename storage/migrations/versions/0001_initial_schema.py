"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 22:27:12.112207
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_category_name"), ["name"], unique=True)

    op.create_table(
        "digest_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("skus", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_id", "local_date", name="uq_digest_once_a_day"),
    )
    with op.batch_alter_table("digest_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_digest_delivery_local_date"), ["local_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_digest_delivery_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_digest_delivery_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "merchant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_merchant_code"), ["code"], unique=True)

    op.create_table(
        "not_interested",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_id", "sku", name="uq_not_interested"),
    )
    with op.batch_alter_table("not_interested", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_not_interested_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "pick_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pick_sent", schema=None) as batch_op:
        batch_op.create_index("ix_pick_sent_streamer_day", ["telegram_id", "sent_on"], unique=False)

    op.create_table(
        "streamer",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id"),
    )
    op.create_table(
        "watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_id", "kind", "target", name="uq_watch"),
    )
    with op.batch_alter_table("watch", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "invite_code",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("brand", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("brand_authorized", sa.Integer(), nullable=False),
        sa.Column("brand_awareness", sa.Float(), nullable=False),
        sa.Column("price_index", sa.Float(), nullable=False),
        sa.Column("lowest_price_ratio", sa.Float(), nullable=False),
        sa.Column("commission_rate", sa.Float(), nullable=False),
        sa.Column("active_streamers_30d", sa.Integer(), nullable=False),
        sa.Column("shop_rating", sa.Float(), nullable=False),
        sa.Column("refund_rate", sa.Float(), nullable=False),
        sa.Column("dispute_rate", sa.Float(), nullable=False),
        sa.Column("gmv_30d", sa.Float(), nullable=False),
        sa.Column("conversion_rate", sa.Float(), nullable=False),
        sa.Column("factory_verified", sa.Integer(), nullable=False),
        sa.Column("counterfeit_flag", sa.Integer(), nullable=False),
        sa.Column("image_url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("tags", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("listed_at", sa.Date(), nullable=True),
        sa.Column("dim_brand", sa.Float(), nullable=False),
        sa.Column("dim_price", sa.Float(), nullable=False),
        sa.Column("dim_distribution", sa.Float(), nullable=False),
        sa.Column("dim_service", sa.Float(), nullable=False),
        sa.Column("dim_sales", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("badges", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("graded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_product_brand"), ["brand"], unique=False)
        batch_op.create_index("ix_product_category_tier", ["category_id", "tier"], unique=False)
        batch_op.create_index("ix_product_merchant_tier", ["merchant_id", "tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_product_sku"), ["sku"], unique=True)
        batch_op.create_index(batch_op.f("ix_product_tier"), ["tier"], unique=False)

    op.create_table(
        "streamer_sale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("gmv_30d", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
        ),
        sa.ForeignKeyConstraint(["telegram_id"], ["streamer.telegram_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_id", "category_id", name="uq_streamer_sale"),
    )
    with op.batch_alter_table("streamer_sale", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_streamer_sale_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "user",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("digest_enabled", sa.Boolean(), nullable=False),
        sa.Column("digest_time", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("chosen_categories", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
        ),
        sa.PrimaryKeyConstraint("telegram_id"),
    )
    op.create_table(
        "watch_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch_id", sa.Integer(), nullable=False),
        sa.Column("sku", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("commission_rate", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["watch_id"], ["watch.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("watch_id", "sku", name="uq_watch_state"),
    )
    op.create_table(
        "tier_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("old_tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("new_tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("old_score", sa.Float(), nullable=True),
        sa.Column("new_score", sa.Float(), nullable=False),
        sa.Column("moved_dimension", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("moved_by", sa.Float(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("alerted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tier_change_changed_at"), ["changed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tier_change_product_id"), ["product_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tier_change_product_id"))
        batch_op.drop_index(batch_op.f("ix_tier_change_changed_at"))

    op.drop_table("tier_change")
    op.drop_table("watch_state")
    op.drop_table("user")
    with op.batch_alter_table("streamer_sale", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streamer_sale_telegram_id"))

    op.drop_table("streamer_sale")
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_tier"))
        batch_op.drop_index(batch_op.f("ix_product_sku"))
        batch_op.drop_index("ix_product_merchant_tier")
        batch_op.drop_index("ix_product_category_tier")
        batch_op.drop_index(batch_op.f("ix_product_brand"))

    op.drop_table("product")
    op.drop_table("invite_code")
    with op.batch_alter_table("watch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_telegram_id"))

    op.drop_table("watch")
    op.drop_table("streamer")
    with op.batch_alter_table("pick_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_pick_sent_streamer_day")

    op.drop_table("pick_sent")
    with op.batch_alter_table("not_interested", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_not_interested_telegram_id"))

    op.drop_table("not_interested")
    with op.batch_alter_table("merchant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_merchant_code"))

    op.drop_table("merchant")
    with op.batch_alter_table("digest_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_delivery_telegram_id"))
        batch_op.drop_index(batch_op.f("ix_digest_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_digest_delivery_local_date"))

    op.drop_table("digest_delivery")
    with op.batch_alter_table("category", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_category_name"))

    op.drop_table("category")
