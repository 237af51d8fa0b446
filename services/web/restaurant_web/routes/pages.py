"""Server-rendered pages for people. Every form POST carries a CSRF token; success redirects (PRG).

The review form also works without a reload: its script sends the same form with `Accept: application/json`
(to report upload progress and keep the chosen files on an error) and gets JSON back instead of a page.
"""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from restaurant_web import repository
from restaurant_web.deps import ServicesDep, SessionDep
from restaurant_web.presenters import photo_urls
from restaurant_web.reviews import ReviewInvalid, field_errors, submit_review
from restaurant_web.schemas import RestaurantCreate
from restaurant_web.security import CSRF_FIELD, CsrfError, verify_csrf
from restaurant_web.templating import list_url, templates
from restaurant_web.uploads import UploadRejected

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 12
REVIEWS_PER_PAGE = 10
RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# What to do, rather than the validator's wording ("Field required"), for the fields people most often miss.
FIELD_HINTS = {
    "name": "Enter the restaurant's name (up to 100 characters).",
    "user_name": "Enter your name (up to 50 characters).",
    "rating": "Choose a rating from 1 to 5 stars.",
}


def _friendly(errors: dict[str, str]) -> dict[str, str]:
    return {name: FIELD_HINTS.get(name, message) for name, message in errors.items()}


@router.get("/")
def index(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=100)] = "",
    sort: repository.SortOrder = "newest",
    cursor: str | None = None,
    page: Annotated[str | None, Query()] = None,
) -> Response:
    if page is not None:
        # Numbered pages (?page=N) were replaced by cursors; such links lead to the start of the same list.
        return RedirectResponse(list_url(q, sort), status_code=301)
    restaurants = repository.list_restaurants(session, limit=PAGE_SIZE, sort=sort, search=q, cursor=cursor)
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "restaurants": restaurants,
            "q": q,
            "sort": sort,
            "sorts": repository.SORT_ORDERS,
            "first_page": cursor is None,
            "sizes": services.settings.thumbnail_sizes,
        },
    )


@router.get("/restaurants/new")
def new_restaurant(request: Request) -> Response:
    return templates.TemplateResponse(request, "restaurant_new.html", {"values": {}, "errors": {}})


@router.post("/restaurants")
async def create_restaurant(request: Request, services: ServicesDep) -> Response:
    form = await request.form(max_files=0, max_fields=10, max_part_size=64 * 1024)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    verify_csrf(request, values.pop(CSRF_FIELD, None))
    try:
        data = RestaurantCreate.model_validate(values)
    except ValidationError as exc:
        context = {"values": values, "errors": _friendly(field_errors(exc))}
        return templates.TemplateResponse(request, "restaurant_new.html", context, status_code=422)
    with services.db.transaction() as session:
        restaurant = repository.create_restaurant(session, data)
    return RedirectResponse(f"/restaurants/{restaurant.id}", status_code=303)


@router.get("/restaurants/{restaurant_id}")
def restaurant_detail(
    restaurant_id: RestaurantId,
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    cursor: str | None = None,
) -> Response:
    return _render_restaurant(request, session, services, restaurant_id, cursor=cursor)


@router.post("/restaurants/{restaurant_id}/reviews")
async def create_review(restaurant_id: RestaurantId, request: Request, services: ServicesDep) -> Response:
    def check_token(fields: dict[str, str]) -> None:
        verify_csrf(request, fields.get(CSRF_FIELD))

    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        review = await submit_review(request, services, restaurant_id, authorize=check_token)
    except ReviewInvalid as exc:
        errors = _friendly(exc.errors)
        if wants_json:
            return JSONResponse({"errors": errors}, status_code=422)
        return await _rerender(request, services, restaurant_id, exc.fields, errors, 422)
    except UploadRejected as exc:
        if wants_json:
            return JSONResponse({"errors": {exc.field: exc.message}}, status_code=exc.status_code)
        return await _rerender(request, services, restaurant_id, {}, {exc.field: exc.message}, exc.status_code)
    except CsrfError as exc:
        if wants_json:
            return JSONResponse({"errors": {"__all__": str(exc)}}, status_code=403)
        raise
    location = f"/restaurants/{restaurant_id}#review-{review.id}"
    if wants_json:
        return JSONResponse({"location": location, "review_id": review.id}, status_code=201)
    return RedirectResponse(location, status_code=303)


async def _rerender(
    request: Request,
    services: ServicesDep,
    restaurant_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int,
) -> Response:
    with services.db.session() as session:
        return _render_restaurant(request, session, services, restaurant_id, values, errors, status)


def _render_restaurant(
    request: Request,
    session: Any,
    services: ServicesDep,
    restaurant_id: int,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    cursor: str | None = None,
) -> Response:
    restaurant = repository.get_restaurant(session, restaurant_id)
    if restaurant is None:
        raise HTTPException(404, "Restaurant not found")
    settings = services.settings
    return templates.TemplateResponse(
        request,
        "restaurant.html",
        {
            "restaurant": restaurant,
            "reviews": repository.list_reviews(session, restaurant_id, limit=REVIEWS_PER_PAGE, cursor=cursor),
            "photo_urls": photo_urls,
            "values": values or {},
            "errors": errors or {},
            "max_photos": settings.max_photos_per_review,
            "max_upload_mb": settings.max_upload_bytes / (1024 * 1024),
            "sizes": settings.thumbnail_sizes,
        },
        status_code=status_code,
    )
