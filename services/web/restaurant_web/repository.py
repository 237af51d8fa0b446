"""Database queries and writes for the web service. Each page needs a constant number of queries."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, selectinload

from restaurant_shared.models import Photo, PhotoStatus, Restaurant, Review
from restaurant_web.schemas import RestaurantCreate, ReviewCreate
from restaurant_web.uploads import StagedPhoto

SortOrder = Literal["newest", "rating", "reviews", "name"]
SORT_ORDERS: tuple[SortOrder, ...] = ("newest", "rating", "reviews", "name")


@dataclass(frozen=True)
class RestaurantSummary:
    id: int
    name: str
    street_address: str
    description: str
    created_at: datetime
    avg_rating: float | None
    review_count: int
    cover_photo_id: uuid.UUID | None


@dataclass(frozen=True)
class RatingSummary:
    avg_rating: float | None
    review_count: int


def create_restaurant(session: Session, data: RestaurantCreate) -> Restaurant:
    restaurant = Restaurant(**data.model_dump())
    session.add(restaurant)
    session.flush()
    return restaurant


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_restaurants(
    session: Session, *, limit: int, offset: int, sort: SortOrder = "newest", search: str = ""
) -> tuple[list[RestaurantSummary], int]:
    """One page of restaurants with their rating aggregates and the total count, in one SQL query."""
    stats = (
        select(
            Review.restaurant_id,
            func.avg(Review.rating).label("avg_rating"),
            func.count(Review.id).label("review_count"),
        )
        .group_by(Review.restaurant_id)
        .subquery()
    )
    # The cover is a ready photo from the best, most recent review.
    cover = (
        select(Photo.id)
        .join(Review, Photo.review_id == Review.id)
        .where(Review.restaurant_id == Restaurant.id, Photo.status == PhotoStatus.READY)
        .order_by(Review.rating.desc(), Review.created_at.desc(), Photo.position)
        .limit(1)
        .correlate(Restaurant)
        .scalar_subquery()
    )
    review_count = func.coalesce(stats.c.review_count, 0)
    query = (
        select(
            Restaurant,
            stats.c.avg_rating,
            review_count.label("review_count"),
            cover.label("cover_photo_id"),
            func.count().over().label("total"),
        )
        .outerjoin(stats, stats.c.restaurant_id == Restaurant.id)
        .limit(limit)
        .offset(offset)
    )
    if search.strip():
        query = query.where(Restaurant.name.ilike(f"%{_escape_like(search.strip())}%", escape="\\"))
    order = {
        "newest": (Restaurant.created_at.desc(), Restaurant.id.desc()),
        "rating": (stats.c.avg_rating.desc().nulls_last(), review_count.desc(), Restaurant.id.desc()),
        "reviews": (review_count.desc(), Restaurant.id.desc()),
        "name": (func.lower(Restaurant.name), Restaurant.id),
    }[sort]
    rows: Sequence[Row] = session.execute(query.order_by(*order)).all()
    if not rows and offset > 0:
        total = session.scalar(select(func.count()).select_from(query.limit(None).offset(None).subquery()))
        return [], int(total or 0)
    items = [
        RestaurantSummary(
            id=row.Restaurant.id,
            name=row.Restaurant.name,
            street_address=row.Restaurant.street_address,
            description=row.Restaurant.description,
            created_at=row.Restaurant.created_at,
            avg_rating=round(float(row.avg_rating), 1) if row.avg_rating is not None else None,
            review_count=row.review_count,
            cover_photo_id=row.cover_photo_id,
        )
        for row in rows
    ]
    return items, (rows[0].total if rows else 0)


def get_restaurant(session: Session, restaurant_id: int) -> Restaurant | None:
    """The restaurant with its reviews (newest first) and their photos, in three queries."""
    return session.scalar(
        select(Restaurant)
        .where(Restaurant.id == restaurant_id)
        .options(selectinload(Restaurant.reviews).selectinload(Review.photos))
    )


def restaurant_exists(session: Session, restaurant_id: int) -> bool:
    return session.scalar(select(Restaurant.id).where(Restaurant.id == restaurant_id)) is not None


def rating_summary(restaurant: Restaurant) -> RatingSummary:
    ratings = [review.rating for review in restaurant.reviews]
    if not ratings:
        return RatingSummary(None, 0)
    return RatingSummary(round(sum(ratings) / len(ratings), 1), len(ratings))


def create_review(session: Session, restaurant_id: int, data: ReviewCreate, photos: Sequence[StagedPhoto]) -> Review:
    review = Review(restaurant_id=restaurant_id, **data.model_dump())
    review.photos = [
        Photo(
            id=photo.id,
            position=position,
            status=PhotoStatus.PENDING,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
        )
        for position, photo in enumerate(photos)
    ]
    session.add(review)
    session.flush()
    session.refresh(review, attribute_names=["created_at"])
    return review


def get_photo(session: Session, photo_id: uuid.UUID) -> Photo | None:
    return session.get(Photo, photo_id)
