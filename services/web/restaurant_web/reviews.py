"""Posting a review with photos: the order of steps that keeps Blob, Postgres and the queue consistent.

1. photos stream into Blob (uploads/<photo id>);
2. one transaction writes the review and its photos as `pending` (if it fails, the blobs are deleted; the
   review's foreign key is what finds a restaurant that does not exist: 404);
3. one thumbnail task per photo is enqueued. If the broker is down the review is still saved: the photos
   stay `pending` and the worker's sweeper enqueues them later.
"""

import logging
from collections.abc import Callable

import anyio.to_thread
from fastapi import HTTPException
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from restaurant_shared.models import Review
from restaurant_shared.taskqueue import enqueue_thumbnails
from restaurant_shared.telemetry.tracing import current_traceparent
from restaurant_web import repository, telemetry
from restaurant_web.schemas import ReviewCreate
from restaurant_web.security import CsrfError
from restaurant_web.services import Services
from restaurant_web.uploads import ReviewUpload, UploadRejected, discard_upload, receive_review_upload

log = logging.getLogger("restaurant_web.reviews")
FOREIGN_KEY_VIOLATION = "23503"


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
    try:
        upload = await receive_review_upload(request, services.store, services.settings, authorize)
    except UploadRejected as exc:
        telemetry.review_rejected(exc.reason)
        raise
    except CsrfError:
        telemetry.review_rejected("csrf")
        raise
    try:
        data = ReviewCreate.model_validate(upload.fields)
    except ValidationError as exc:
        await discard_upload(services.store, upload)
        telemetry.review_rejected("invalid_fields")
        raise ReviewInvalid(field_errors(exc), upload.fields) from None
    try:
        review = await anyio.to_thread.run_sync(_save, services, restaurant_id, data, upload)
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await discard_upload(services.store, upload)
        if isinstance(exc, IntegrityError) and getattr(exc.orig, "pgcode", None) == FOREIGN_KEY_VIOLATION:
            # No earlier existence check (a round trip on every post): the review's foreign key is the check.
            telemetry.review_rejected("unknown_restaurant")
            raise HTTPException(404, "Restaurant not found") from None
        raise
    telemetry.review_accepted(review)
    for photo in review.photos:
        await anyio.to_thread.run_sync(_enqueue, services, photo.id)
    return review


def _save(services: Services, restaurant_id: int, data: ReviewCreate, upload: ReviewUpload) -> Review:
    with services.db.transaction() as session:
        # Where this upload's trace can be found again: the sweeper links to it if it re-enqueues a photo.
        return repository.create_review(session, restaurant_id, data, upload.photos, current_traceparent())


def _enqueue(services: Services, photo_id: object) -> None:
    try:
        enqueue_thumbnails(services.celery, photo_id)  # type: ignore[arg-type]
    except Exception as exc:  # any broker failure: the sweeper re-enqueues pending photos
        log.warning(
            "enqueue failed, photo stays pending for the sweeper: photo_id=%s error=%s",
            photo_id,
            type(exc).__name__,
        )
