"""ix_restaurant_sitemap: the newest change in each sitemap file's id range, one index descent per file

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 12:00:00.000000

Built CONCURRENTLY, so restaurants and reviews are written while it builds; an interrupted build leaves an
invalid index behind, which the next run drops and builds again.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_restaurant_sitemap"
# The expressions of restaurant_shared.models.sitemap_file_number() and sitemap_lastmod().
DEFINITION = "restaurant (((id - 1) / 50000), greatest(created_at, last_review_at))"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        invalid = (
            op.get_bind()
            .execute(
                text(
                    "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE c.relname = :n AND NOT i.indisvalid"
                ),
                {"n": NAME},
            )
            .first()
        )
        if invalid:
            op.execute(f"DROP INDEX CONCURRENTLY {NAME}")
        op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NAME} ON {DEFINITION}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
