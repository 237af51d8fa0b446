"""browse at any size: stored aggregates on restaurant, keyset and trigram indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 02:00:00

Safe on a large database while the app runs:
- the new columns have constant defaults, so adding them rewrites nothing;
- constraints are added NOT VALID (instant) and validated afterwards without blocking writes;
- the aggregates are backfilled a batch of restaurants at a time, each batch its own short transaction that
  locks only its restaurants while it counts: a review that the new web code adds meanwhile updates its
  restaurant after the batch commits, so it is counted exactly once;
- indexes are built and dropped CONCURRENTLY.
Every step can run again after an interruption. Reviews and photos that an *older* web or worker version
writes during the rollout are not counted here: `python -m restaurant_shared.aggregates` repairs that, and
any other drift, once the rollout is done.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_SIZE = 1000

NEW_INDEXES = {
    "ix_restaurant_newest": "restaurant (created_at, id)",
    "ix_restaurant_name": "restaurant (lower(name), id)",
    "ix_restaurant_reviews": "restaurant (review_count, id)",
    "ix_restaurant_rating": (
        "restaurant (coalesce(round(rating_sum::numeric / nullif(review_count, 0)::numeric, 1), 0::numeric),"
        " review_count, id)"
    ),
    "ix_restaurant_name_trgm": "restaurant USING gin (name gin_trgm_ops)",
    "ix_restaurant_cover_photo": "restaurant (cover_photo_id) WHERE cover_photo_id IS NOT NULL",
    "ix_review_restaurant_newest": "review (restaurant_id, created_at, id)",
}
# Replaced by the ones above (ix_photo_review_id: uq_photo_review_position serves review_id lookups).
OLD_INDEXES = {
    "ix_restaurant_created_at": "restaurant (created_at)",
    "ix_restaurant_name_lower": "restaurant (lower(name))",
    "ix_review_restaurant_created": "review (restaurant_id, created_at)",
    "ix_photo_review_id": "photo (review_id)",
}
CONSTRAINTS = {
    "review_count_not_negative": "CHECK (review_count >= 0)",
    "rating_sum_in_range": "CHECK (rating_sum BETWEEN review_count AND 5 * review_count)",
    "fk_restaurant_cover": "FOREIGN KEY (cover_photo_id) REFERENCES photo (id) ON DELETE SET NULL",
}

BACKFILL_COUNTS = """
UPDATE restaurant r
SET review_count = s.n, rating_sum = s.total, last_review_at = s.latest
FROM (SELECT restaurant_id, count(*) AS n, sum(rating) AS total, max(created_at) AS latest
      FROM review WHERE restaurant_id >= :lo AND restaurant_id < :hi GROUP BY restaurant_id) s
WHERE r.id = s.restaurant_id
"""
# The cover: a ready photo of the best-rated, most recent review (its first such photo).
BACKFILL_COVERS = """
UPDATE restaurant r
SET cover_photo_id = c.photo_id
FROM (SELECT DISTINCT ON (rv.restaurant_id) rv.restaurant_id, p.id AS photo_id
      FROM review rv JOIN photo p ON p.review_id = rv.id
      WHERE rv.restaurant_id >= :lo AND rv.restaurant_id < :hi AND p.status = 'ready'
      ORDER BY rv.restaurant_id, rv.rating DESC, rv.created_at DESC, rv.id DESC, p.position) c
WHERE r.id = c.restaurant_id
"""


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "ALTER TABLE restaurant"
        " ADD COLUMN IF NOT EXISTS review_count integer NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS rating_sum integer NOT NULL DEFAULT 0,"
        " ADD COLUMN IF NOT EXISTS last_review_at timestamptz,"
        " ADD COLUMN IF NOT EXISTS cover_photo_id uuid"
    )
    conn = op.get_bind()
    for name, definition in CONSTRAINTS.items():
        exists = conn.execute(text("SELECT 1 FROM pg_constraint WHERE conname = :name"), {"name": name}).first()
        if not exists:
            op.execute(f"ALTER TABLE restaurant ADD CONSTRAINT {name} {definition} NOT VALID")

    with op.get_context().autocommit_block():
        bounds = conn.execute(text("SELECT min(id), max(id) FROM restaurant")).one()
        if bounds[0] is not None:
            for lo in range(bounds[0], bounds[1] + 1, BATCH_SIZE):
                window = {"lo": lo, "hi": lo + BATCH_SIZE}
                conn.execute(text("BEGIN"))
                conn.execute(text("SELECT id FROM restaurant WHERE id >= :lo AND id < :hi FOR UPDATE"), window)
                conn.execute(text(BACKFILL_COUNTS), window)
                conn.execute(text(BACKFILL_COVERS), window)
                conn.execute(text("COMMIT"))
        for name in CONSTRAINTS:
            op.execute(f"ALTER TABLE restaurant VALIDATE CONSTRAINT {name}")
        for name, definition in NEW_INDEXES.items():
            _drop_if_invalid(name)
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")
        for name in OLD_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def _drop_if_invalid(name: str) -> None:
    """An interrupted CREATE INDEX CONCURRENTLY leaves an invalid index behind; build it again."""
    invalid = (
        op.get_bind()
        .execute(
            text(
                "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = :n AND NOT i.indisvalid"
            ),
            {"n": name},
        )
        .first()
    )
    if invalid:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")


def downgrade() -> None:
    for name, definition in OLD_INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")
    for name in NEW_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    for name in CONSTRAINTS:
        op.execute(f"ALTER TABLE restaurant DROP CONSTRAINT IF EXISTS {name}")
    op.execute(
        "ALTER TABLE restaurant DROP COLUMN IF EXISTS review_count, DROP COLUMN IF EXISTS rating_sum,"
        " DROP COLUMN IF EXISTS last_review_at, DROP COLUMN IF EXISTS cover_photo_id"
    )
