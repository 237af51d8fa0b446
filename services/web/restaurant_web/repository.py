"""Database queries and writes for the web service. Every page reads O(page) rows through an index."""

import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from restaurant_shared import aggregates
from restaurant_shared.models import Photo, PhotoStatus, Restaurant, Review, rating_sort_key
from restaurant_web.pagination import KeysetOrder, Page, fetch_page
from restaurant_web.schemas import RestaurantCreate, ReviewCreate
from restaurant_web.uploads import StagedPhoto

SortOrder = Literal["newest", "rating", "reviews", "name"]
SORT_ORDERS: tuple[SortOrder, ...] = ("newest", "rating", "reviews", "name")

# Each order is read through its own index (see the models); ids make every key unique.
RESTAURANT_ORDERS: dict[SortOrder, KeysetOrder] = {
    "newest": KeysetOrder("newest", (Restaurant.created_at, Restaurant.id), ("datetime", "int"), descending=True),
    "rating": KeysetOrder(
        "rating", (rating_sort_key(), Restaurant.review_count, Restaurant.id), ("decimal", "int", "int"), True
    ),
    "reviews": KeysetOrder("reviews", (Restaurant.review_count, Restaurant.id), ("int", "int"), descending=True),
    "name": KeysetOrder("name", (func.lower(Restaurant.name), Restaurant.id), ("text", "int"), descending=False),
}
REVIEW_ORDER = KeysetOrder("reviews-newest", (Review.created_at, Review.id), ("datetime", "int"), descending=True)


def create_restaurant(session: Session, data: RestaurantCreate) -> Restaurant:
    restaurant = Restaurant(**data.model_dump())
    session.add(restaurant)
    session.flush()
    return restaurant


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_restaurants(
    session: Session, *, limit: int, sort: SortOrder = "newest", search: str = "", cursor: str | None = None
) -> Page[Restaurant]:
    """One page of restaurants with their stored aggregates: one SQL query through the sort order's index."""
    query = select(Restaurant)
    if search.strip():
        query = query.where(Restaurant.name.ilike(f"%{_escape_like(search.strip())}%", escape="\\"))
    return fetch_page(session, RESTAURANT_ORDERS[sort], query, cursor, limit)


def get_restaurant(session: Session, restaurant_id: int) -> Restaurant | None:
    return session.get(Restaurant, restaurant_id)


def list_reviews(session: Session, restaurant_id: int, *, limit: int, cursor: str | None = None) -> Page[Review]:
    """One page of a restaurant's visible reviews, newest first, with their visible photos: one SQL query."""
    query = (
        select(Review)
        .where(Review.restaurant_id == restaurant_id, Review.hidden_at.is_(None))
        .options(joinedload(Review.photos.and_(Photo.hidden_at.is_(None))))
    )
    return fetch_page(session, REVIEW_ORDER, query, cursor, limit)


def restaurant_exists(session: Session, restaurant_id: int) -> bool:
    return session.scalar(select(Restaurant.id).where(Restaurant.id == restaurant_id)) is not None


def create_review(
    session: Session,
    restaurant_id: int,
    data: ReviewCreate,
    photos: Sequence[StagedPhoto],
    trace_context: str | None = None,
) -> Review:
    review = Review(restaurant_id=restaurant_id, **data.model_dump())
    review.photos = [
        Photo(
            id=photo.id,
            position=position,
            status=PhotoStatus.PENDING,
            content_type=photo.content_type,
            size_bytes=photo.size_bytes,
            trace_context=trace_context,
        )
        for position, photo in enumerate(photos)
    ]
    session.add(review)
    session.flush()  # created_at comes back with the INSERT (eager_defaults)
    aggregates.count_new_review(session, restaurant_id, review.rating, review.created_at)
    return review


def get_photo(session: Session, photo_id: uuid.UUID, *, include_hidden: bool = False) -> Photo | None:
    """A photo, unless a moderator hid it or its review (`include_hidden`: moderators see those too)."""
    query = select(Photo).where(Photo.id == photo_id)
    if not include_hidden:
        query = query.join(Review).where(Photo.hidden_at.is_(None), Review.hidden_at.is_(None))
    return session.scalar(query)
