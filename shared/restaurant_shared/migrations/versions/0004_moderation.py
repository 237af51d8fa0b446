"""moderation: reports, hidden reviews and photos, the audit trail, photo erasures

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 02:02:55.612809

The new tables are empty; on the large review and photo tables the new columns are nullable (nothing is
rewritten) and their indexes are built CONCURRENTLY, so writes go on meanwhile.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("moderator_id", sa.String(length=128), nullable=False),
        sa.Column("moderator_name", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("target_summary", sa.String(length=300), server_default="", nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_moderation_action_newest", "moderation_action", ["created_at", "id"], unique=False)
    op.create_table(
        "photo_erasure",
        sa.Column("photo_id", sa.UUID(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("photo_id"),
    )
    op.create_index("ix_photo_erasure_requested", "photo_erasure", ["requested_at"], unique=False)
    op.create_table(
        "report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("photo_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("reporter", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "reason IN ('spam', 'offensive', 'off_topic', 'private_information', 'other')", name="reason_known"
        ),
        sa.CheckConstraint("status IN ('open', 'dismissed', 'actioned')", name="status_known"),
        sa.CheckConstraint("num_nonnulls(review_id, photo_id) = 1", name="one_target"),
        sa.ForeignKeyConstraint(["photo_id"], ["photo.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_report_open", "report", ["created_at", "id"], unique=False, postgresql_where=sa.text("status = 'open'")
    )
    op.create_index(
        "uq_report_photo_reporter",
        "report",
        ["photo_id", "reporter"],
        unique=True,
        postgresql_where=sa.text("photo_id IS NOT NULL"),
    )
    op.create_index(
        "uq_report_review_reporter",
        "report",
        ["review_id", "reporter"],
        unique=True,
        postgresql_where=sa.text("review_id IS NOT NULL"),
    )
    op.add_column("photo", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("review", sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True))
    with op.get_context().autocommit_block():
        for table in ("photo", "review"):
            op.create_index(
                f"ix_{table}_hidden",
                table,
                ["hidden_at", "id"],
                unique=False,
                postgresql_where=sa.text("hidden_at IS NOT NULL"),
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    op.drop_index("ix_review_hidden", table_name="review", postgresql_where=sa.text("hidden_at IS NOT NULL"))
    op.drop_column("review", "hidden_at")
    op.drop_index("ix_photo_hidden", table_name="photo", postgresql_where=sa.text("hidden_at IS NOT NULL"))
    op.drop_column("photo", "hidden_at")
    op.drop_index("uq_report_review_reporter", table_name="report", postgresql_where=sa.text("review_id IS NOT NULL"))
    op.drop_index("uq_report_photo_reporter", table_name="report", postgresql_where=sa.text("photo_id IS NOT NULL"))
    op.drop_index("ix_report_open", table_name="report", postgresql_where=sa.text("status = 'open'"))
    op.drop_table("report")
    op.drop_index("ix_photo_erasure_requested", table_name="photo_erasure")
    op.drop_table("photo_erasure")
    op.drop_index("ix_moderation_action_newest", table_name="moderation_action")
    op.drop_table("moderation_action")
