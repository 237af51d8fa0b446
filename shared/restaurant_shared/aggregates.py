"""What a restaurant's list row shows, stored on the restaurant and kept exact.

- A new review adds to review_count, rating_sum and last_review_at in the transaction that inserts it. The
  UPDATE locks the restaurant's row, so concurrent reviews of one restaurant queue for a moment and every
  one is counted once.
- When a photo becomes ready the worker offers it as the cover: the cover is a ready photo of the
  best-rated, most recent review (the review's first such photo), so a new photo replaces the cover only if
  its review ranks higher. Offers lock the row too.
- The recount computes all of it from the reviews and photos, finds drift and repairs it:

      python -m restaurant_shared.aggregates [--dry-run] [--batch-size 1000]

  It works through the restaurants a batch at a time, locking only that batch while it counts, so it is
  exact while the app runs (run it after an upgrade, or whenever the counts are in doubt).
"""

import argparse
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text, update
from sqlalchemy.orm import Session

from restaurant_shared.db import Database
from restaurant_shared.logging import configure_logging
from restaurant_shared.models import Restaurant
from restaurant_shared.settings import get_settings

log = logging.getLogger("restaurant_shared.aggregates")


def count_new_review(session: Session, restaurant_id: int, rating: int, created_at: datetime) -> None:
    """Add one review to its restaurant's aggregates; call it in the transaction that inserts the review."""
    session.execute(
        text(
            "UPDATE restaurant SET review_count = review_count + 1, rating_sum = rating_sum + :rating,"
            " last_review_at = greatest(last_review_at, :created_at) WHERE id = :id"
        ),
        {"id": restaurant_id, "rating": rating, "created_at": created_at},
    )


_OFFER_COVER = text("""
UPDATE restaurant r SET cover_photo_id = p.id
FROM photo p JOIN review rv ON rv.id = p.review_id
WHERE p.id = :photo_id AND p.status = 'ready' AND p.hidden_at IS NULL AND rv.hidden_at IS NULL
  AND r.id = rv.restaurant_id
  AND (r.cover_photo_id IS NULL
       OR (rv.rating, rv.created_at, rv.id, -p.position) >
          (SELECT cr.rating, cr.created_at, cr.id, -cp.position
           FROM photo cp JOIN review cr ON cr.id = cp.review_id WHERE cp.id = r.cover_photo_id))
""")


def offer_cover(session: Session, photo_id: uuid.UUID) -> bool:
    """Make a photo that has just become ready its restaurant's cover if it ranks above the current one."""
    return bool(session.execute(_OFFER_COVER, {"photo_id": photo_id}).rowcount)  # type: ignore[attr-defined]


# What the stored columns should hold, from the visible reviews and photos (moderators hide some).
_EXPECTED_FROM = """
FROM restaurant r
LEFT JOIN LATERAL (SELECT count(*) AS n, sum(rating) AS total, max(created_at) AS latest
                   FROM review WHERE restaurant_id = r.id AND hidden_at IS NULL) s ON true
LEFT JOIN LATERAL (SELECT p.id AS photo_id FROM review rv JOIN photo p ON p.review_id = rv.id
                   WHERE rv.restaurant_id = r.id AND p.status = 'ready' AND rv.hidden_at IS NULL
                     AND p.hidden_at IS NULL
                   ORDER BY rv.rating DESC, rv.created_at DESC, rv.id DESC, p.position LIMIT 1) c ON true
"""
_DRIFTED = text(f"""
SELECT r.id,
       r.review_count, coalesce(s.n, 0) AS expected_review_count,
       r.rating_sum, coalesce(s.total, 0) AS expected_rating_sum,
       r.last_review_at, s.latest AS expected_last_review_at,
       r.cover_photo_id, c.photo_id AS expected_cover_photo_id
{_EXPECTED_FROM}
WHERE r.id BETWEEN :lo AND :hi
  AND (r.review_count, r.rating_sum, r.last_review_at, r.cover_photo_id)
      IS DISTINCT FROM (coalesce(s.n, 0), coalesce(s.total, 0), s.latest, c.photo_id)
""")  # noqa: S608 (made of constants only)
_RECOUNT_ONE = text(f"""
UPDATE restaurant SET review_count = coalesce(s.n, 0), rating_sum = coalesce(s.total, 0),
                      last_review_at = s.latest, cover_photo_id = c.photo_id
{_EXPECTED_FROM}
WHERE r.id = :id AND restaurant.id = r.id
""")  # noqa: S608 (made of constants only)


def recount_restaurant(session: Session, restaurant_id: int) -> None:
    """Set one restaurant's aggregates from its rows: after a review or photo is hidden, restored or deleted."""
    # Lock first, then count in a new statement: a review committed while we waited for the lock is seen.
    session.execute(text("SELECT 1 FROM restaurant WHERE id = :id FOR UPDATE"), {"id": restaurant_id})
    session.execute(_RECOUNT_ONE, {"id": restaurant_id})


@dataclass
class DriftReport:
    restaurants_checked: int = 0
    restaurants_drifted: int = 0
    reviews_miscounted: int = 0  # sum over restaurants of |stored count - real count|
    rating_points_off: int = 0  # the same for rating_sum
    latest_review_dates_wrong: int = 0
    covers_wrong: int = 0
    fixed: bool = False

    def summary(self) -> str:
        verb = "fixed" if self.fixed else "found (dry run, nothing changed)"
        return (
            f"checked {self.restaurants_checked} restaurants; {self.restaurants_drifted} had drift, {verb}: "
            f"{self.reviews_miscounted} reviews miscounted, {self.rating_points_off} rating points off, "
            f"{self.latest_review_dates_wrong} latest-review dates and {self.covers_wrong} covers wrong"
        )


def recount(db: Database, *, fix: bool = True, batch_size: int = 1000) -> DriftReport:
    """Compare every restaurant's stored aggregates with a count of its reviews and photos; repair drift."""
    report = DriftReport(fixed=fix)
    after = 0
    while True:
        with db.transaction() as session:
            # Lock the batch first: writers of these restaurants wait, so the count below sees every
            # review that was committed, and any later one is added on top of the repaired value.
            ids = list(
                session.scalars(
                    text("SELECT id FROM restaurant WHERE id > :after ORDER BY id LIMIT :n FOR UPDATE"),
                    {"after": after, "n": batch_size},
                )
            )
            if not ids:
                return report
            after = ids[-1]
            report.restaurants_checked += len(ids)
            drifted = session.execute(_DRIFTED, {"lo": ids[0], "hi": ids[-1]}).all()
            for row in drifted:
                report.restaurants_drifted += 1
                report.reviews_miscounted += abs(row.review_count - row.expected_review_count)
                report.rating_points_off += abs(row.rating_sum - row.expected_rating_sum)
                report.latest_review_dates_wrong += row.last_review_at != row.expected_last_review_at
                report.covers_wrong += row.cover_photo_id != row.expected_cover_photo_id
            if fix and drifted:
                session.connection().execute(
                    update(Restaurant)
                    .where(Restaurant.id == bindparam("row_id"))
                    .values(
                        review_count=bindparam("expected_review_count"),
                        rating_sum=bindparam("expected_rating_sum"),
                        last_review_at=bindparam("expected_last_review_at"),
                        cover_photo_id=bindparam("expected_cover_photo_id"),
                    ),
                    [
                        {
                            "row_id": row.id,
                            "expected_review_count": row.expected_review_count,
                            "expected_rating_sum": row.expected_rating_sum,
                            "expected_last_review_at": row.expected_last_review_at,
                            "expected_cover_photo_id": row.expected_cover_photo_id,
                        }
                        for row in drifted
                    ],
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m restaurant_shared.aggregates", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="report drift without changing anything")
    parser.add_argument("--batch-size", type=int, default=1000, help="restaurants per transaction")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    db = Database(settings)
    try:
        report = recount(db, fix=not args.dry_run, batch_size=max(1, args.batch_size))
    finally:
        db.dispose()
    log.info(report.summary(), extra={"drift": report.__dict__})
    print(report.summary())


if __name__ == "__main__":
    main()
