"""Database models. Every rule is also a database constraint; migrations create the schema."""

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
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
    __tablename__ = "restaurant"
    __table_args__ = (
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        Index("ix_restaurant_created_at", "created_at"),
        Index("ix_restaurant_name_lower", text("lower(name)")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    street_address: Mapped[str] = mapped_column(String(ADDRESS_MAX), default="", server_default="")
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

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
        Index("ix_review_restaurant_created", "restaurant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurant.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(USER_NAME_MAX))
    rating: Mapped[int] = mapped_column(SmallInteger)
    review_text: Mapped[str] = mapped_column(String(REVIEW_TEXT_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

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
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(16), default=PhotoStatus.PENDING, server_default=PhotoStatus.PENDING)
    failure_reason: Mapped[str | None] = mapped_column(String(FAILURE_REASON_MAX))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail_sizes: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger), default=list, server_default="{}")
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # W3C traceparent of the upload, so a re-enqueue can link to the trace it started in (0003).
    trace_context: Mapped[str | None] = mapped_column(String(55))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    review: Mapped[Review] = relationship(back_populates="photos")

    @property
    def is_finished(self) -> bool:
        return self.status in (PhotoStatus.READY, PhotoStatus.FAILED)
