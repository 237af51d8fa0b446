"""Posting a review with photos: the order of steps that keeps Blob, Postgres and the queue consistent.

1. photos stream into Blob (uploads/<photo id>);
2. one transaction writes the review and its photos as `pending` (if it fails, the blobs are deleted);
3. one thumbnail task per photo is enqueued. If the broker is down the review is still saved: the photos
   stay `pending` and the worker's sweeper enqueues them later.
"""

import logging
from collections.abc import Callable

import anyio.to_thread
from fastapi import HTTPException
from pydantic import ValidationError
from starlette.requests import Request

from restaurant_shared.models import Review
from restaurant_shared.taskqueue import enqueue_thumbnails
from restaurant_web import repository
from restaurant_web.schemas import ReviewCreate
from restaurant_web.services import Services
from restaurant_web.uploads import ReviewUpload, discard_upload, receive_review_upload

log = logging.getLogger("restaurant_web.reviews")


class ReviewInvalid(Exception):
    def __init__(self, errors: dict[str, str], fields: dict[str, str]) -> None:
        super().__init__("invalid review")
        self.errors = errors
        self.fields = fields


def field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "__all__"
        errors.setdefault(name, error["msg"].removeprefix("Value error, "))
    return errors


async def submit_review(
    request: Request,
    services: Services,
    restaurant_id: int,
    authorize: Callable[[dict[str, str]], None] | None = None,
) -> Review:
    exists = await anyio.to_thread.run_sync(_restaurant_exists, services, restaurant_id)
    if not exists:
        raise HTTPException(404, "Restaurant not found")
    upload = await receive_review_upload(request, services.store, services.settings, authorize)
    try:
        data = ReviewCreate.model_validate(upload.fields)
    except ValidationError as exc:
        await discard_upload(services.store, upload)
        raise ReviewInvalid(field_errors(exc), upload.fields) from None
    try:
        review = await anyio.to_thread.run_sync(_save, services, restaurant_id, data, upload)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await discard_upload(services.store, upload)
        raise
    for photo in review.photos:
        await anyio.to_thread.run_sync(_enqueue, services, photo.id)
    return review


def _restaurant_exists(services: Services, restaurant_id: int) -> bool:
    with services.db.session() as session:
        return repository.restaurant_exists(session, restaurant_id)


def _save(services: Services, restaurant_id: int, data: ReviewCreate, upload: ReviewUpload) -> Review:
    with services.db.transaction() as session:
        return repository.create_review(session, restaurant_id, data, upload.photos)


def _enqueue(services: Services, photo_id: object) -> None:
    try:
        enqueue_thumbnails(services.celery, photo_id)  # type: ignore[arg-type]
    except Exception as exc:  # any broker failure: the sweeper re-enqueues pending photos
        log.warning(
            "enqueue failed, photo stays pending for the sweeper: photo_id=%s error=%s",
            photo_id,
            type(exc).__name__,
        )
