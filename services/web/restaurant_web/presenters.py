"""Turn database rows into API shapes; the pages use the same URLs."""

from restaurant_shared.models import Photo, PhotoStatus, Restaurant, Review
from restaurant_web.schemas import PhotoOut, RestaurantDetailOut, RestaurantSummaryOut, ReviewOut


def thumbnail_url(photo_id: object, size: int) -> str:
    return f"/photos/{photo_id}/{size}"


def photo_urls(photo: Photo) -> dict[str, str]:
    if photo.status != PhotoStatus.READY:
        return {}
    return {str(size): thumbnail_url(photo.id, size) for size in sorted(photo.thumbnail_sizes)}


def photo_out(photo: Photo) -> PhotoOut:
    return PhotoOut(
        id=photo.id,
        status=photo.status,
        failure_reason=photo.failure_reason,
        width=photo.width,
        height=photo.height,
        urls=photo_urls(photo),
    )


def review_out(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.id,
        restaurant_id=review.restaurant_id,
        user_name=review.user_name,
        rating=review.rating,
        review_text=review.review_text,
        created_at=review.created_at,
        photos=[photo_out(photo) for photo in review.photos],
    )


def summary_out(restaurant: Restaurant, cover_size: int) -> RestaurantSummaryOut:
    cover = thumbnail_url(restaurant.cover_photo_id, cover_size) if restaurant.cover_photo_id else None
    return RestaurantSummaryOut(
        id=restaurant.id,
        name=restaurant.name,
        street_address=restaurant.street_address,
        description=restaurant.description,
        created_at=restaurant.created_at,
        avg_rating=restaurant.avg_rating,
        review_count=restaurant.review_count,
        cover_photo_url=cover,
    )


def restaurant_detail_out(
    restaurant: Restaurant, cover_size: int, reviews: list[Review], reviews_next: str | None
) -> RestaurantDetailOut:
    return RestaurantDetailOut(
        **summary_out(restaurant, cover_size).model_dump(),
        reviews=[review_out(review) for review in reviews],
        reviews_next=reviews_next,
    )
