"""photo.trace_context: the W3C traceparent of the upload

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000

Nullable and without a default: adding it rewrites nothing, and photos uploaded while telemetry was off
simply have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("photo", sa.Column("trace_context", sa.String(length=55), nullable=True))


def downgrade() -> None:
    op.drop_column("photo", "trace_context")
