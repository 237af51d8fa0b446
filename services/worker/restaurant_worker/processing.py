"""The thumbnail job's I/O around the pure image function: Postgres state, Blob reads and writes."""

import uuid
from dataclasses import dataclass

from sqlalchemy import update

from restaurant_shared import aggregates
from restaurant_shared.blobstore import BlobStore, raw_blob_name, thumbnail_blob_name
from restaurant_shared.db import Database
from restaurant_shared.models import FAILURE_REASON_MAX, Photo, PhotoStatus
from restaurant_shared.settings import Settings
from restaurant_worker.thumbnails import make_thumbnails


class TooManyAttempts(Exception):
    pass


@dataclass(frozen=True)
class Outcome:
    status: str
    width: int | None = None
    height: int | None = None
    sizes: tuple[int, ...] = ()


def claim(db: Database, photo_id: uuid.UUID, max_attempts: int) -> str | None:
    """Mark the photo processing and count the attempt; None if it is ready already or gone."""
    with db.transaction() as session:
        row = session.execute(
            update(Photo)
            .where(Photo.id == photo_id, Photo.status != PhotoStatus.READY)
            .values(status=PhotoStatus.PROCESSING, attempts=Photo.attempts + 1)
            .returning(Photo.attempts)
        ).first()
    if row is None:
        return None
    if row.attempts > max_attempts:
        raise TooManyAttempts(f"Processing was started {row.attempts - 1} times without finishing.")
    return PhotoStatus.PROCESSING


def process_photo(db: Database, store: BlobStore, settings: Settings, photo_id: uuid.UUID) -> Outcome:
    if claim(db, photo_id, settings.photo_max_attempts) is None:
        return Outcome("skipped")
    original = store.read_raw(raw_blob_name(photo_id))
    result = make_thumbnails(
        original,
        settings.thumbnail_sizes,
        quality=settings.thumbnail_quality,
        max_pixels=settings.max_image_pixels,
    )
    for thumbnail in result.items:
        store.put_thumbnail(thumbnail_blob_name(photo_id, thumbnail.size), thumbnail.data)
    sizes = tuple(thumbnail.size for thumbnail in result.items)
    with db.transaction() as session:
        updated = session.execute(
            update(Photo)
            .where(Photo.id == photo_id)
            .values(
                status=PhotoStatus.READY,
                width=result.width,
                height=result.height,
                thumbnail_sizes=list(sizes),
                failure_reason=None,
            )
            .returning(Photo.id)
        ).first()
        if updated is not None:
            aggregates.offer_cover(session, photo_id)
    if updated is None:
        # Deleted by a moderator while this task ran: the erasure may already be done, so these blobs
        # would outlive the photo.
        store.delete_thumbnails(photo_id)
        store.delete_raw([raw_blob_name(photo_id)])
        return Outcome("deleted")
    return Outcome(PhotoStatus.READY, result.width, result.height, sizes)


def mark_failed(db: Database, photo_id: uuid.UUID, reason: str) -> None:
    with db.transaction() as session:
        session.execute(
            update(Photo)
            .where(Photo.id == photo_id, Photo.status != PhotoStatus.READY)
            .values(status=PhotoStatus.FAILED, failure_reason=reason[:FAILURE_REASON_MAX])
        )
