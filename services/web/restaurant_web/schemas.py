"""The JSON API's request and response shapes (and the validation the HTML forms share)."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from restaurant_shared.models import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    NAME_MAX,
    REVIEW_TEXT_MAX,
    USER_NAME_MAX,
)


def _no_nul(value: str) -> str:
    # Postgres text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _text(min_length: int, max_length: int) -> object:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


RestaurantName = _text(1, NAME_MAX)
StreetAddress = _text(0, ADDRESS_MAX)
Description = _text(0, DESCRIPTION_MAX)
UserName = _text(1, USER_NAME_MAX)
ReviewText = _text(0, REVIEW_TEXT_MAX)


class RestaurantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RestaurantName  # type: ignore[valid-type]
    street_address: StreetAddress = ""  # type: ignore[valid-type]
    description: Description = ""  # type: ignore[valid-type]


class ReviewCreate(BaseModel):
    user_name: UserName  # type: ignore[valid-type]
    rating: int = Field(ge=1, le=5)
    review_text: ReviewText = ""  # type: ignore[valid-type]


class RestaurantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    street_address: str
    description: str
    created_at: datetime


class RestaurantSummaryOut(RestaurantOut):
    avg_rating: float | None = Field(description="Average rating rounded to one decimal; null without reviews")
    review_count: int
    cover_photo_url: str | None = None


PAGE_LINK = "URL of the next page in the same order, or null on the last page"


class RestaurantPage(BaseModel):
    items: list[RestaurantSummaryOut]
    limit: int
    next: str | None = Field(description=PAGE_LINK)
    prev: str | None = Field(description="URL of the previous page, or null on the first page")


class PhotoOut(BaseModel):
    id: uuid.UUID
    status: str
    failure_reason: str | None
    width: int | None
    height: int | None
    urls: dict[str, str] = Field(description="Thumbnail URL per size (longest side in pixels), when ready")


class ReviewOut(BaseModel):
    id: int
    restaurant_id: int
    user_name: str
    rating: int
    review_text: str
    created_at: datetime
    photos: list[PhotoOut]


class ReviewPage(BaseModel):
    items: list[ReviewOut]
    limit: int
    next: str | None = Field(description="URL of the next (older) reviews, or null after the oldest")
    prev: str | None = Field(description="URL of the previous (newer) reviews, or null on the newest")


class RestaurantDetailOut(RestaurantSummaryOut):
    reviews: list[ReviewOut] = Field(description="The newest reviews; follow reviews_next for older ones")
    reviews_next: str | None = Field(description="URL of the next page of reviews, or null when all are here")


class ErrorOut(BaseModel):
    detail: str
