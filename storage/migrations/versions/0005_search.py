"""search synonyms: operators' synonyms and brand aliases

Revision ID: 0005_search
Revises: 0003_offers_match
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005_search"
down_revision = "0003_offers_match"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_synonym",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("same_as", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("term", "same_as", name="uq_search_synonym"),
    )


def downgrade() -> None:
    op.drop_table("search_synonym")
