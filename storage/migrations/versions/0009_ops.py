"""pick_sent: one row per streamer, day and sku (so recording picks can be an upsert)

Revision ID: 0009_ops
Revises: 0006_roles_samples
Create Date: 2026-11-29 21:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0009_ops"
down_revision = "0006_roles_samples"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two processes recording the same pick could have written it twice: keep the first row.
    op.execute(
        "DELETE FROM pick_sent WHERE id NOT IN "
        "(SELECT MIN(id) FROM pick_sent GROUP BY telegram_id, sent_on, sku)"
    )
    with op.batch_alter_table("pick_sent", schema=None) as batch_op:
        batch_op.drop_index("ix_pick_sent_streamer_day")
        # Leads with (telegram_id, sent_on): it serves the old index's lookups too.
        batch_op.create_index("uq_pick_sent_streamer_day_sku", ["telegram_id", "sent_on", "sku"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("pick_sent", schema=None) as batch_op:
        batch_op.drop_index("uq_pick_sent_streamer_day_sku")
        batch_op.create_index("ix_pick_sent_streamer_day", ["telegram_id", "sent_on"], unique=False)
