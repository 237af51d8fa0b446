"""The JSON API (OpenAPI at /docs): the same operations as the pages, for programs."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import URL

from restaurant_web import repository
from restaurant_web.deps import ServicesDep, SessionDep
from restaurant_web.presenters import photo_out, restaurant_detail_out, review_out, summary_out
from restaurant_web.reviews import ReviewInvalid, submit_review
from restaurant_web.schemas import (
    ErrorOut,
    PhotoOut,
    RestaurantCreate,
    RestaurantDetailOut,
    RestaurantOut,
    RestaurantPage,
    ReviewOut,
    ReviewPage,
)
from restaurant_web.security import verify_same_origin

router = APIRouter(prefix="/api", tags=["api"])
SameOrigin = Depends(verify_same_origin)
RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
BAD_REQUEST: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut, "description": "Invalid or stale cursor"}}
PageCursor = Annotated[str | None, Query(description="From the `next` or `prev` URL of a page")]
REVIEWS_LIMIT = 20
OFFSET_REMOVED = (
    "The offset parameter is no longer supported: pages are linked by cursor. "
    "Follow the `next` URL of each page, starting from the first."
)

REVIEW_FORM_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["user_name", "rating"],
                    "properties": {
                        "user_name": {"type": "string", "minLength": 1, "maxLength": 50},
                        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                        "review_text": {"type": "string", "maxLength": 2000},
                        "photos": {
                            "type": "array",
                            "maxItems": 5,
                            "items": {"type": "string", "format": "binary"},
                            "description": "JPEG, PNG, WebP or GIF; at most MAX_UPLOAD_BYTES each",
                        },
                    },
                }
            }
        },
    }
}


@router.post("/restaurants", status_code=201, response_model=RestaurantOut, dependencies=[SameOrigin])
def create_restaurant(data: RestaurantCreate, session: SessionDep) -> RestaurantOut:
    restaurant = repository.create_restaurant(session, data)
    session.commit()
    return RestaurantOut.model_validate(restaurant)


@router.get("/restaurants", response_model=RestaurantPage, responses=BAD_REQUEST)
def list_restaurants(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    sort: repository.SortOrder = "newest",
    q: Annotated[str, Query(max_length=100, description="Part of the name, any case")] = "",
    cursor: PageCursor = None,
    offset: Annotated[int | None, Query(include_in_schema=False)] = None,
) -> RestaurantPage:
    if offset is not None:  # a client of the old API would otherwise get the first page forever
        raise HTTPException(400, OFFSET_REMOVED)
    page = repository.list_restaurants(session, limit=limit, sort=sort, search=q, cursor=cursor)
    cover_size = services.settings.thumbnail_sizes[0]
    return RestaurantPage(
        items=[summary_out(item, cover_size) for item in page.items],
        limit=limit,
        next=_page_url(request.url, page.next_cursor),
        prev=_page_url(request.url, page.prev_cursor),
    )


@router.get("/restaurants/{restaurant_id}", response_model=RestaurantDetailOut, responses=NOT_FOUND)
def get_restaurant(
    restaurant_id: RestaurantId, request: Request, session: SessionDep, services: ServicesDep
) -> RestaurantDetailOut:
    restaurant = repository.get_restaurant(session, restaurant_id)
    if restaurant is None:
        raise HTTPException(404, "Restaurant not found")
    reviews = repository.list_reviews(session, restaurant_id, limit=REVIEWS_LIMIT)
    next_url = _page_url(request.url_for("list_reviews", restaurant_id=restaurant_id), reviews.next_cursor)
    return restaurant_detail_out(restaurant, services.settings.thumbnail_sizes[0], reviews.items, next_url)


@router.get("/restaurants/{restaurant_id}/reviews", response_model=ReviewPage, responses={**NOT_FOUND, **BAD_REQUEST})
def list_reviews(
    restaurant_id: RestaurantId,
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = REVIEWS_LIMIT,
    cursor: PageCursor = None,
) -> ReviewPage:
    page = repository.list_reviews(session, restaurant_id, limit=limit, cursor=cursor)
    if not page.items and not repository.restaurant_exists(session, restaurant_id):
        raise HTTPException(404, "Restaurant not found")
    return ReviewPage(
        items=[review_out(review) for review in page.items],
        limit=limit,
        next=_page_url(request.url, page.next_cursor),
        prev=_page_url(request.url, page.prev_cursor),
    )


def _page_url(url: URL, cursor: str | None) -> str | None:
    return str(url.include_query_params(cursor=cursor)) if cursor else None


@router.post(
    "/restaurants/{restaurant_id}/reviews",
    status_code=201,
    response_model=ReviewOut,
    responses={404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
    openapi_extra=REVIEW_FORM_SCHEMA,
    dependencies=[SameOrigin],
)
async def create_review(restaurant_id: RestaurantId, request: Request, services: ServicesDep) -> Any:
    try:
        review = await submit_review(request, services, restaurant_id)
    except ReviewInvalid as exc:
        detail = [{"loc": ["body", name], "msg": msg, "type": "value_error"} for name, msg in exc.errors.items()]
        return JSONResponse({"detail": detail}, status_code=422)
    return review_out(review)


@router.get("/photos/{photo_id}", response_model=PhotoOut, responses=NOT_FOUND)
def get_photo(photo_id: uuid.UUID, session: SessionDep) -> PhotoOut:
    photo = repository.get_photo(session, photo_id)
    if photo is None:
        raise HTTPException(404, "Photo not found")
    return photo_out(photo)
