"""团长 (leaders), their teams and activities (招商活动)

Revision ID: 0007_leaders
Revises: 0009_ops
Create Date: 2026-11-29 22:00:00

A user bound as a 团长 gets `leader_id`; a streamer who joined a team gets `team_id`. Activities
have per-category commission floors and merchants' submissions.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0007_leaders"
down_revision = "0009_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leader",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("team_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("leader", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leader_team_code"), ["team_code"], unique=True)

    op.create_table(
        "leader_invite",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["leader_id"], ["leader.id"]),
        sa.PrimaryKeyConstraint("code"),
    )

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leader_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_user_leader_id_leader", "leader", ["leader_id"], ["id"])
        batch_op.create_foreign_key("fk_user_team_id_leader", "leader", ["team_id"], ["id"])

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("min_tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["leader_id"], ["leader.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index("ix_activity_leader_ends", ["leader_id", "ends"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_ends"), ["ends"], unique=False)

    op.create_table(
        "activity_floor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("min_commission", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["activity_id"], ["activity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "category_id", name="uq_activity_floor"),
    )

    op.create_table(
        "activity_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("submitted_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["activity_id"], ["activity.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id", "product_id", name="uq_activity_product"),
    )
    with op.batch_alter_table("activity_submission", schema=None) as batch_op:
        batch_op.create_index("ix_submission_activity_status", ["activity_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activity_submission", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_activity_status")
    op.drop_table("activity_submission")
    op.drop_table("activity_floor")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_ends"))
        batch_op.drop_index("ix_activity_leader_ends")
    op.drop_table("activity")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_constraint("fk_user_team_id_leader", type_="foreignkey")
        batch_op.drop_constraint("fk_user_leader_id_leader", type_="foreignkey")
        batch_op.drop_column("team_id")
        batch_op.drop_column("leader_id")
    op.drop_table("leader_invite")
    with op.batch_alter_table("leader", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leader_team_code"))
    op.drop_table("leader")
