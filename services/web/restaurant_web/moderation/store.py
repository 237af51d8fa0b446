"""Reports, moderator actions and the audit trail, in the database.

Every action is one transaction: the change, the restaurant's aggregates recounted from its rows, the
reports it settles and its audit entry. Deleting also records each photo in photo_erasure; the caller
enqueues the erasure of their blobs once the transaction has committed.
"""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, joinedload, selectinload

from restaurant_shared import aggregates
from restaurant_shared.models import (
    ModerationAction,
    Photo,
    PhotoErasure,
    Report,
    ReportStatus,
    Restaurant,
    Review,
)
from restaurant_web.moderation.principal import Principal
from restaurant_web.pagination import KeysetOrder, Page, fetch_page

TargetType = Literal["review", "photo", "restaurant"]
REPORT_ORDER = KeysetOrder("reports-newest", (Report.created_at, Report.id), ("datetime", "int"), descending=True)
AUDIT_ORDER = KeysetOrder(
    "audit-newest", (ModerationAction.created_at, ModerationAction.id), ("datetime", "int"), descending=True
)
HIDDEN_REVIEW_ORDER = KeysetOrder("hidden-reviews", (Review.hidden_at, Review.id), ("datetime", "int"), True)
HIDDEN_PHOTO_ORDER = KeysetOrder("hidden-photos", (Photo.hidden_at, Photo.id), ("datetime", "uuid"), True)


def reporter_key(client_address: str) -> str:
    """Counts a client once per item without keeping its address."""
    return hashlib.sha256(f"report:{client_address}".encode()).hexdigest()


def visible_review(session: Session, review_id: int, *, with_photos: bool = False) -> Review | None:
    query = select(Review).where(Review.id == review_id, Review.hidden_at.is_(None))
    if with_photos:
        query = query.options(
            joinedload(Review.restaurant), selectinload(Review.photos.and_(Photo.hidden_at.is_(None)))
        )
    return session.scalar(query)


def visible_photo(session: Session, photo_id: uuid.UUID) -> Photo | None:
    return session.scalar(
        select(Photo).join(Review).where(Photo.id == photo_id, Photo.hidden_at.is_(None), Review.hidden_at.is_(None))
    )


def add_report(
    session: Session, *, review_id: int | None = None, photo_id: uuid.UUID | None = None, reason: str, note: str,
    reporter: str,
) -> None:  # fmt: skip
    """Record a report; a second one from the same client about the same item changes nothing."""
    target = "review_id" if review_id is not None else "photo_id"
    session.execute(
        pg_insert(Report)
        .values(review_id=review_id, photo_id=photo_id, reason=reason, note=note, reporter=reporter)
        .on_conflict_do_nothing(index_elements=[target, "reporter"], index_where=Report.__table__.c[target].isnot(None))
    )


@dataclass(frozen=True)
class QueuedReport:
    report: Report
    open_reports: int  # on the same item, this one included


def open_reports(session: Session, cursor: str | None, limit: int) -> Page[QueuedReport]:
    query = (
        select(Report)
        .where(Report.status == ReportStatus.OPEN)
        .options(
            joinedload(Report.review).joinedload(Review.restaurant),
            joinedload(Report.review).selectinload(Review.photos),
            joinedload(Report.photo).joinedload(Photo.review).joinedload(Review.restaurant),
        )
    )
    page = fetch_page(session, REPORT_ORDER, query, cursor, limit)
    review_ids = {r.review_id for r in page.items if r.review_id is not None}
    photo_ids = {r.photo_id for r in page.items if r.photo_id is not None}
    counts: dict[object, int] = {}
    if review_ids or photo_ids:
        rows = session.execute(
            select(Report.review_id, Report.photo_id, func.count())
            .where(
                Report.status == ReportStatus.OPEN,
                Report.review_id.in_(review_ids) | Report.photo_id.in_(photo_ids),
            )
            .group_by(Report.review_id, Report.photo_id)
        )
        counts = {review_id if review_id is not None else photo_id: count for review_id, photo_id, count in rows}
    items = [QueuedReport(r, counts.get(r.review_id if r.review_id is not None else r.photo_id, 1)) for r in page.items]
    return Page(items, page.next_cursor, page.prev_cursor)


def hidden_reviews(session: Session, cursor: str | None, limit: int) -> Page[Review]:
    query = (
        select(Review)
        .where(Review.hidden_at.is_not(None))
        .options(joinedload(Review.restaurant), selectinload(Review.photos))
    )
    return fetch_page(session, HIDDEN_REVIEW_ORDER, query, cursor, limit)


def hidden_photos(session: Session, cursor: str | None, limit: int) -> Page[Photo]:
    query = (
        select(Photo)
        .where(Photo.hidden_at.is_not(None))
        .options(joinedload(Photo.review).joinedload(Review.restaurant))
    )
    return fetch_page(session, HIDDEN_PHOTO_ORDER, query, cursor, limit)


def audit_log(session: Session, cursor: str | None, limit: int) -> Page[ModerationAction]:
    return fetch_page(session, AUDIT_ORDER, select(ModerationAction), cursor, limit)


def _audit(
    session: Session, who: Principal, action: str, target: TargetType, target_id: object, summary: str, reason: str
) -> None:
    session.add(
        ModerationAction(
            moderator_id=who.id,
            moderator_name=who.name,
            action=action,
            target_type=target,
            target_id=str(target_id),
            target_summary=summary[:300],
            reason=reason,
        )
    )


def _settle_reports(session: Session, status: ReportStatus, *, review_id: int | None = None,
                    photo_id: uuid.UUID | None = None) -> int:  # fmt: skip
    target = Report.review_id == review_id if review_id is not None else Report.photo_id == photo_id
    result = session.execute(
        update(Report)
        .where(target, Report.status == ReportStatus.OPEN)
        .values(status=status, resolved_at=func.now())
        .returning(Report.id)
    )
    return len(result.all())


def _review_summary(review: Review) -> str:
    return f"review #{review.id} ({review.rating}/5) on “{review.restaurant.name}”"


def _photo_summary(photo: Photo) -> str:
    return f"photo {photo.id} of review #{photo.review_id} on “{photo.review.restaurant.name}”"


def _review(session: Session, review_id: int) -> Review | None:
    return session.scalar(
        select(Review).where(Review.id == review_id).options(joinedload(Review.restaurant)).with_for_update(of=Review)
    )


def _photo(session: Session, photo_id: uuid.UUID) -> Photo | None:
    return session.scalar(
        select(Photo)
        .where(Photo.id == photo_id)
        .options(joinedload(Photo.review).joinedload(Review.restaurant))
        .with_for_update(of=Photo)
    )


def dismiss_reports(session: Session, who: Principal, target: TargetType, target_id: int | uuid.UUID,
                    reason: str) -> bool:  # fmt: skip
    """Close the open reports about an item, leaving the item as it is."""
    if target == "review":
        review = _review(session, int(target_id))
        if review is None:
            return False
        _settle_reports(session, ReportStatus.DISMISSED, review_id=review.id)
        _audit(session, who, "dismiss_reports", "review", review.id, _review_summary(review), reason)
        return True
    photo = _photo(session, target_id)  # type: ignore[arg-type]
    if photo is None:
        return False
    _settle_reports(session, ReportStatus.DISMISSED, photo_id=photo.id)
    _audit(session, who, "dismiss_reports", "photo", photo.id, _photo_summary(photo), reason)
    return True


def set_review_hidden(session: Session, who: Principal, review_id: int, hidden: bool, reason: str) -> bool:
    review = _review(session, review_id)
    if review is None:
        return False
    review.hidden_at = func.now() if hidden else None
    session.flush()
    if hidden:
        _settle_reports(session, ReportStatus.ACTIONED, review_id=review.id)
    aggregates.recount_restaurant(session, review.restaurant_id)
    _audit(session, who, "hide" if hidden else "restore", "review", review.id, _review_summary(review), reason)
    return True


def set_photo_hidden(session: Session, who: Principal, photo_id: uuid.UUID, hidden: bool, reason: str) -> bool:
    photo = _photo(session, photo_id)
    if photo is None:
        return False
    photo.hidden_at = func.now() if hidden else None
    session.flush()
    if hidden:
        _settle_reports(session, ReportStatus.ACTIONED, photo_id=photo.id)
    aggregates.recount_restaurant(session, photo.review.restaurant_id)
    _audit(session, who, "hide" if hidden else "restore", "photo", photo.id, _photo_summary(photo), reason)
    return True


def _record_erasure(session: Session, photos: Select[uuid.UUID]) -> list[uuid.UUID]:
    """Note the photos about to be deleted in photo_erasure, in this transaction; returns their ids."""
    return list(
        session.scalars(insert(PhotoErasure).from_select(["photo_id"], photos).returning(PhotoErasure.photo_id))
    )


def delete_review(session: Session, who: Principal, review_id: int, reason: str) -> list[uuid.UUID] | None:
    """Delete a review and its photos; returns the photos whose blobs are to be erased (None: no such review)."""
    review = _review(session, review_id)
    if review is None:
        return None
    summary, restaurant_id = _review_summary(review), review.restaurant_id
    erased = _record_erasure(session, select(Photo.id).where(Photo.review_id == review_id))
    session.execute(delete(Review).where(Review.id == review_id))
    aggregates.recount_restaurant(session, restaurant_id)
    _audit(session, who, "delete", "review", review_id, summary, reason)
    return erased


def delete_photo(session: Session, who: Principal, photo_id: uuid.UUID, reason: str) -> list[uuid.UUID] | None:
    photo = _photo(session, photo_id)
    if photo is None:
        return None
    summary, restaurant_id = _photo_summary(photo), photo.review.restaurant_id
    erased = _record_erasure(session, select(Photo.id).where(Photo.id == photo_id))
    session.execute(delete(Photo).where(Photo.id == photo_id))
    aggregates.recount_restaurant(session, restaurant_id)
    _audit(session, who, "delete", "photo", photo_id, summary, reason)
    return erased


def delete_restaurant(session: Session, who: Principal, restaurant_id: int, reason: str) -> list[uuid.UUID] | None:
    restaurant = session.scalar(select(Restaurant).where(Restaurant.id == restaurant_id).with_for_update())
    if restaurant is None:
        return None
    summary = f"restaurant “{restaurant.name}” with {restaurant.review_count} reviews"
    erased = _record_erasure(session, select(Photo.id).join(Review).where(Review.restaurant_id == restaurant_id))
    session.execute(delete(Restaurant).where(Restaurant.id == restaurant_id))
    _audit(session, who, "delete", "restaurant", restaurant_id, summary, reason)
    return erased
