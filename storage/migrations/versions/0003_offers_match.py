"""exclusive offers, match invitations, merchant mutes, /profile discoverability

Revision ID: 0003_offers_match
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0003_offers_match"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discoverable", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "exclusive_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("streamer_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("offered_by", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "streamer_id", name="uq_offer_product_streamer"),
    )
    with op.batch_alter_table("exclusive_offer", schema=None) as batch_op:
        batch_op.create_index("ix_offer_streamer_expires", ["streamer_id", "expires_at"], unique=False)

    op.create_table(
        "match_invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("streamer_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("match_invite", schema=None) as batch_op:
        batch_op.create_index("ix_invite_merchant_created", ["merchant_id", "created_at"], unique=False)
        batch_op.create_index("ix_invite_streamer_created", ["streamer_id", "created_at"], unique=False)

    op.create_table(
        "merchant_mute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("streamer_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("streamer_id", "merchant_id", name="uq_merchant_mute"),
    )


def downgrade() -> None:
    op.drop_table("merchant_mute")
    with op.batch_alter_table("match_invite", schema=None) as batch_op:
        batch_op.drop_index("ix_invite_streamer_created")
        batch_op.drop_index("ix_invite_merchant_created")
    op.drop_table("match_invite")
    with op.batch_alter_table("exclusive_offer", schema=None) as batch_op:
        batch_op.drop_index("ix_offer_streamer_expires")
    op.drop_table("exclusive_offer")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("discoverable")
