"""Erasure: the blobs of deleted photos (the raw upload and every thumbnail) are deleted for good.

The web app deletes the rows and records each photo in photo_erasure in the same transaction, then enqueues
this task. It is idempotent (missing blobs are fine) and never touches a photo that still has a row. The
sweeper erases each recorded photo once more after the stuck-photo delay, which also removes a thumbnail a
task still running at deletion time wrote, and then forgets the record.
"""

import logging
import uuid
from collections.abc import Iterable

from sqlalchemy import select

from restaurant_shared.blobstore import BlobStore, raw_blob_name
from restaurant_shared.db import Database
from restaurant_shared.models import Photo

log = logging.getLogger("restaurant_worker.erasure")


def erase_photos(db: Database, store: BlobStore, photo_ids: Iterable[uuid.UUID]) -> int:
    """Delete the blobs of the given photos whose rows are gone; returns how many photos were erased."""
    ids = set(photo_ids)
    with db.session() as session:
        still_there = set(session.scalars(select(Photo.id).where(Photo.id.in_(ids)))) if ids else set()
    if still_there:
        log.warning("not erasing photos that still exist", extra={"count": len(still_there)})
    gone = ids - still_there
    for photo_id in gone:
        store.delete_thumbnails(photo_id)
    store.delete_raw(raw_blob_name(photo_id) for photo_id in gone)
    return len(gone)
