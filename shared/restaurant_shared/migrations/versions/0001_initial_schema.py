"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:33:39.859128
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "restaurant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("street_address", sa.String(length=200), server_default="", nullable=False),
        sa.Column("description", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_restaurant_created_at", "restaurant", ["created_at"], unique=False)
    op.create_index("ix_restaurant_name_lower", "restaurant", [sa.text("lower(name)")], unique=False)
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=50), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("review_text", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("length(btrim(user_name)) > 0", name="user_name_not_blank"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
        sa.ForeignKeyConstraint(["restaurant_id"], ["restaurant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_restaurant_created", "review", ["restaurant_id", "created_at"], unique=False)
    op.create_table(
        "photo",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("thumbnail_sizes", postgresql.ARRAY(sa.SmallInteger()), server_default="{}", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status <> 'failed' OR failure_reason IS NOT NULL", name="failed_has_reason"),
        sa.CheckConstraint(
            "status <> 'ready' OR (width > 0 AND height > 0 AND cardinality(thumbnail_sizes) > 0)",
            name="ready_has_thumbnails",
        ),
        sa.CheckConstraint("status IN ('pending', 'processing', 'ready', 'failed')", name="status_known"),
        sa.CheckConstraint("position BETWEEN 0 AND 4", name="at_most_5_per_review"),
        sa.CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "position", name="uq_photo_review_position"),
    )
    op.create_index(op.f("ix_photo_review_id"), "photo", ["review_id"], unique=False)
    op.create_index(
        "ix_photo_unfinished",
        "photo",
        ["updated_at"],
        unique=False,
        postgresql_where="status IN ('pending', 'processing')",
    )


def downgrade() -> None:
    op.drop_index("ix_photo_unfinished", table_name="photo", postgresql_where="status IN ('pending', 'processing')")
    op.drop_index(op.f("ix_photo_review_id"), table_name="photo")
    op.drop_table("photo")
    op.drop_index("ix_review_restaurant_created", table_name="review")
    op.drop_table("review")
    op.drop_index("ix_restaurant_name_lower", table_name="restaurant")
    op.drop_index("ix_restaurant_created_at", table_name="restaurant")
    op.drop_table("restaurant")
