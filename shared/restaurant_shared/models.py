"""Database models. Every rule is also a database constraint; migrations create the schema."""

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAME_MAX = 100
ADDRESS_MAX = 200
DESCRIPTION_MAX = 1000
USER_NAME_MAX = 50
REVIEW_TEXT_MAX = 2000
FAILURE_REASON_MAX = 500
PHOTOS_PER_REVIEW_MAX = 5


class PhotoStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Base(DeclarativeBase):
    pass


class Restaurant(Base):
    """A restaurant, with the aggregates its list row shows stored on it (see restaurant_shared.aggregates).

    review_count, rating_sum and last_review_at change in the transaction that adds a review; the cover is
    set by the worker when a photo becomes ready. A recount (`python -m restaurant_shared.aggregates`)
    repairs any drift.
    """

    __tablename__ = "restaurant"
    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("review_count >= 0", name="review_count_not_negative"),
        CheckConstraint("rating_sum BETWEEN review_count AND 5 * review_count", name="rating_sum_in_range"),
        # Each sort order of the list reads one index in order, from a keyset cursor.
        Index("ix_restaurant_newest", "created_at", "id"),
        Index("ix_restaurant_name", text("lower(name)"), "id"),
        Index("ix_restaurant_reviews", "review_count", "id"),
        # Substring search (ILIKE '%term%') through trigrams.
        Index("ix_restaurant_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
        # Deleting a photo finds the restaurant it is the cover of (ON DELETE SET NULL).
        Index("ix_restaurant_cover_photo", "cover_photo_id", postgresql_where=text("cover_photo_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    street_address: Mapped[str] = mapped_column(String(ADDRESS_MAX), default="", server_default="")
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    review_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rating_sum: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_review_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cover_photo_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("photo.id", ondelete="SET NULL", use_alter=True, name="fk_restaurant_cover")
    )

    @property
    def avg_rating(self) -> float | None:
        """The average rating as pages show it: one decimal; None without reviews."""
        return round(self.rating_sum / self.review_count, 1) if self.review_count else None

    reviews: Mapped[list["Review"]] = relationship(
        back_populates="restaurant",
        order_by="(Review.created_at.desc(), Review.id.desc())",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Review(Base):
    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
        CheckConstraint("length(btrim(user_name)) > 0", name="user_name_not_blank"),
        # A restaurant's reviews, newest first, a page at a time from a keyset cursor.
        Index("ix_review_restaurant_newest", "restaurant_id", "created_at", "id"),
        Index("ix_review_hidden", "hidden_at", "id", postgresql_where=text("hidden_at IS NOT NULL")),
    )
    __mapper_args__ = {"eager_defaults": True}  # created_at comes back in the INSERT's RETURNING

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurant.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(USER_NAME_MAX))
    rating: Mapped[int] = mapped_column(SmallInteger)
    review_text: Mapped[str] = mapped_column(String(REVIEW_TEXT_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by a moderator: a hidden review is on no page and in no aggregate until it is restored.
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    restaurant: Mapped[Restaurant] = relationship(back_populates="reviews")
    photos: Mapped[list["Photo"]] = relationship(
        back_populates="review", order_by="Photo.position", cascade="all, delete-orphan", passive_deletes=True
    )


class Photo(Base):
    __tablename__ = "photo"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'processing', 'ready', 'failed')", name="status_known"),
        CheckConstraint(f"position BETWEEN 0 AND {PHOTOS_PER_REVIEW_MAX - 1}", name="at_most_5_per_review"),
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint(
            "status <> 'ready' OR (width > 0 AND height > 0 AND cardinality(thumbnail_sizes) > 0)",
            name="ready_has_thumbnails",
        ),
        CheckConstraint("status <> 'failed' OR failure_reason IS NOT NULL", name="failed_has_reason"),
        UniqueConstraint("review_id", "position", name="uq_photo_review_position"),
        Index(
            "ix_photo_unfinished",
            "updated_at",
            postgresql_where="status IN ('pending', 'processing')",
        ),
        Index("ix_photo_hidden", "hidden_at", "id", postgresql_where=text("hidden_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    # uq_photo_review_position (review_id, position) is the index for a review's photos.
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), default=PhotoStatus.PENDING, server_default=PhotoStatus.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(String(FAILURE_REASON_MAX))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail_sizes: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), default=list, server_default="{}")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # W3C traceparent of the upload, so a re-enqueue can link to the trace it started in.
    trace_context: Mapped[str | None] = mapped_column(String(55))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # by a moderator
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    review: Mapped[Review] = relationship(back_populates="photos")

    @property
    def is_finished(self) -> bool:
        return self.status in (PhotoStatus.READY, PhotoStatus.FAILED)


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    OFF_TOPIC = "off_topic"
    PRIVATE_INFORMATION = "private_information"
    OTHER = "other"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"  # the content was hidden or deleted


REPORT_NOTE_MAX = 500
MODERATION_REASON_MAX = 500


class Report(Base):
    """A visitor's report of a review or a photo. One per client and item: reporting again changes nothing."""

    __tablename__ = "report"
    __table_args__ = (
        CheckConstraint("num_nonnulls(review_id, photo_id) = 1", name="one_target"),
        CheckConstraint(f"reason IN ({', '.join(repr(r.value) for r in ReportReason)})", name="reason_known"),
        CheckConstraint(f"status IN ({', '.join(repr(s.value) for s in ReportStatus)})", name="status_known"),
        Index("uq_report_review_reporter", "review_id", "reporter", unique=True,
              postgresql_where=text("review_id IS NOT NULL")),
        Index("uq_report_photo_reporter", "photo_id", "reporter", unique=True,
              postgresql_where=text("photo_id IS NOT NULL")),
        # The moderation queue: open reports, newest first.
        Index("ix_report_open", "created_at", "id", postgresql_where=text("status = 'open'")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int | None] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"))
    photo_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("photo.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(REPORT_NOTE_MAX), default="", server_default="")
    # A one-way hash of the client's address: enough to count a client once, not to identify it.
    reporter: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.OPEN, server_default=ReportStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    review: Mapped[Review | None] = relationship()
    photo: Mapped[Photo | None] = relationship()


class ModerationAction(Base):
    """The audit trail: who did what to which item, when and why. Kept after the item itself is gone."""

    __tablename__ = "moderation_action"
    __table_args__ = (Index("ix_moderation_action_newest", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    moderator_id: Mapped[str] = mapped_column(String(128))
    moderator_name: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[str] = mapped_column(String(64))
    # What the item was, without its user-written text (erasure must not survive in the audit trail).
    target_summary: Mapped[str] = mapped_column(String(300), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(MODERATION_REASON_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PhotoErasure(Base):
    """A deleted photo whose blobs are being erased. Written in the transaction that deletes the photo's row;
    the worker erases the blobs at once and the sweeper erases them once more after the stuck-photo delay
    (catching a thumbnail that a task still running wrote meanwhile), then drops the row."""

    __tablename__ = "photo_erasure"
    __table_args__ = (Index("ix_photo_erasure_requested", "requested_at"),)

    photo_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def rating_sort_key() -> ColumnElement[Any]:
    """The rating the list shows (one decimal; 0 without reviews), as SQL: what "best rated" sorts by.

    Sorting by the shown rating, then by review count, puts 4.9 from 500 reviews above 4.9 from 3. The
    expression is indexed (ix_restaurant_rating); queries must use this same expression to use the index.
    """
    average = cast(Restaurant.rating_sum, Numeric) / func.nullif(Restaurant.review_count, 0)
    return func.coalesce(func.round(average, 1), 0)


Index("ix_restaurant_rating", rating_sort_key(), Restaurant.review_count, Restaurant.id)


# The sitemap protocol's limit of URLs per file: sitemap file n lists the restaurants with ids in
# (n * 50,000, (n + 1) * 50,000]. Changing it means a new ix_restaurant_sitemap.
SITEMAP_URLS_PER_FILE = 50_000


def sitemap_file_number() -> ColumnElement[int]:
    """The sitemap file a restaurant is listed in (its id range); queries must use this expression."""
    return (Restaurant.id - 1) // SITEMAP_URLS_PER_FILE


def sitemap_lastmod() -> ColumnElement[datetime]:
    """When a restaurant's page last changed for a search engine: its latest review, else its creation."""
    return func.greatest(Restaurant.created_at, Restaurant.last_review_at)


# The newest lastmod of each sitemap file is one descent of this index, never a read of the file's rows.
Index("ix_restaurant_sitemap", sitemap_file_number(), sitemap_lastmod())
