"""roles add up; samples (寄样)

Revision ID: 0006_roles_samples
Revises: 0005_search
Create Date: 2026-11-29 21:00:00

`user.role` goes: roles are now derived (everyone is a streamer, a bound merchant_id adds
merchant), so binding no longer takes the streamer role away. Invite codes remember a revocation.
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0006_roles_samples"
down_revision = "0005_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("role")
    with op.batch_alter_table("invite_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    op.create_table(
        "sample_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("streamer_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("tracking", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sample_request", schema=None) as batch_op:
        batch_op.create_index("ix_sample_request_merchant_status", ["merchant_id", "status"], unique=False)
        batch_op.create_index("ix_sample_request_product_created", ["product_id", "created_at"], unique=False)
        batch_op.create_index("ix_sample_request_streamer_status", ["streamer_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_sample_request_status"), ["status"], unique=False)

    op.create_table(
        "sample_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("min_gmv_30d", sa.Float(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["category_id"], ["category.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("merchant_id", "category_id", name="uq_sample_rule"),
    )


def downgrade() -> None:
    op.drop_table("sample_rule")
    with op.batch_alter_table("sample_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_request_status"))
        batch_op.drop_index("ix_sample_request_streamer_status")
        batch_op.drop_index("ix_sample_request_product_created")
        batch_op.drop_index("ix_sample_request_merchant_status")
    op.drop_table("sample_request")
    with op.batch_alter_table("invite_code", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="streamer"
            )
        )
    op.execute("UPDATE \"user\" SET role = 'merchant' WHERE merchant_id IS NOT NULL")
