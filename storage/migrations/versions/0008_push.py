"""targeted recommendations (官方小二定向推荐): push and push_delivery

Revision ID: 0008_push
Revises: 0007_leaders
Create Date: 2026-11-29 22:00:00

A push is identified by its goods and segment (`key`); its delivery rows carry the digest's
states, one per streamer and push.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0008_push"
down_revision = "0007_leaders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("skus", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("segment", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "push_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("push_id", sa.Integer(), nullable=False),
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
        sa.ForeignKeyConstraint(["push_id"], ["push.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("push_id", "telegram_id", name="uq_push_once_per_streamer"),
    )
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_delivery_push_id"), ["push_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_delivery_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_push_delivery_telegram_id"), ["telegram_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_delivery_telegram_id"))
        batch_op.drop_index(batch_op.f("ix_push_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_push_delivery_push_id"))
    op.drop_table("push_delivery")
    op.drop_table("push")
