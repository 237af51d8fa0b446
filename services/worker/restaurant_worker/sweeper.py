"""The delivery guarantee: photos stuck in pending/processing are enqueued again; orphan uploads go; the
blobs of deleted photos are erased once more (see erasure.py) and their erasure records dropped.

Brokers lose or delay messages: Redis redelivers a killed worker's task only after its visibility
timeout, and the Azure Storage Queue transport deletes a message when it is received. Postgres holds
each photo's state, so a periodic sweep finds every photo that has not finished and enqueues it again.
Every worker replica runs the sweep; a Postgres advisory lock lets only one of them do it at a time.
"""

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

from celery import Celery
from sqlalchemy import delete, func, select, text, update

from restaurant_shared.blobstore import BlobStore, StoredBlob
from restaurant_shared.db import Database
from restaurant_shared.models import Photo, PhotoErasure, PhotoStatus
from restaurant_shared.settings import Settings
from restaurant_shared.taskqueue import enqueue_erasure, enqueue_thumbnails
from restaurant_shared.telemetry.metrics import instruments
from restaurant_shared.telemetry.tracing import link_to

log = logging.getLogger("restaurant_worker.sweeper")
_SWEEP_LOCK_ID = 0x5EED_F07A
_BATCH = 500


def requeue_stuck_photos(db: Database, celery: Celery, stuck_after: timedelta) -> int:
    """Enqueue photos unfinished for longer than `stuck_after`; returns how many were enqueued."""
    with db.transaction() as session:
        if not session.scalar(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _SWEEP_LOCK_ID}):
            return 0  # another replica is sweeping right now
        stuck = (
            select(Photo.id)
            .where(
                Photo.status.in_([PhotoStatus.PENDING, PhotoStatus.PROCESSING]),
                Photo.updated_at < func.now() - stuck_after,
            )
            .order_by(Photo.updated_at)
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
        # Touching updated_at starts the photo's clock again, so it is not enqueued on every sweep.
        stuck_photos = session.execute(
            update(Photo)
            .where(Photo.id.in_(stuck))
            .values(updated_at=func.now())
            .returning(Photo.id, Photo.trace_context)
        ).all()
    for photo_id, trace_context in stuck_photos:
        # Each re-enqueue starts a trace of its own (a retry minutes later is no part of the upload's
        # request), linked to the upload's trace when the upload was traced.
        enqueue_thumbnails(celery, photo_id, links=link_to(trace_context))
    if stuck_photos:
        instruments().sweeper_requeued.add(len(stuck_photos))
        log.info("re-enqueued stuck photos", extra={"count": len(stuck_photos)})
    return len(stuck_photos)


def finish_erasures(db: Database, celery: Celery, after: timedelta) -> int:
    """Erase once more the photos deleted longer than `after` ago, then forget them; returns how many."""
    with db.transaction() as session:
        due = (
            select(PhotoErasure.photo_id)
            .where(PhotoErasure.requested_at < func.now() - after)
            .order_by(PhotoErasure.requested_at)
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
        photo_ids = list(
            session.scalars(delete(PhotoErasure).where(PhotoErasure.photo_id.in_(due)).returning(PhotoErasure.photo_id))
        )
        # Inside the transaction: if the broker is down, the records stay for the next sweep.
        enqueue_erasure(celery, photo_ids)
    if photo_ids:
        log.info("erased deleted photos once more", extra={"count": len(photo_ids)})
    return len(photo_ids)


def delete_orphan_uploads(db: Database, store: BlobStore, grace: timedelta) -> int:
    """Delete blobs older than `grace` that no photo row refers to: raw uploads (a crash between the blob write
    and the database commit leaves those) and thumbnails (of a photo deleted outside the app, say). Deleted
    photos' blobs go sooner, through their erasure records; this is the net under everything else."""
    cutoff = datetime.now(UTC) - grace
    raw = {name: photo_id for name, photo_id in _old_blobs(store.list_raw(), cutoff)}
    thumbnails = {photo_id for _, photo_id in _old_blobs(store.list_thumbnails(), cutoff)}
    known = _existing_photos(db, {i for i in raw.values() if i} | {i for i in thumbnails if i})
    orphans = [name for name, photo_id in raw.items() if photo_id not in known]
    store.delete_raw(orphans)
    orphan_thumbnails = [photo_id for photo_id in thumbnails if photo_id is not None and photo_id not in known]
    for photo_id in orphan_thumbnails:
        store.delete_thumbnails(photo_id)
    if orphans or orphan_thumbnails:
        instruments().sweeper_orphans_deleted.add(len(orphans))
        log.info("deleted orphan blobs", extra={"uploads": len(orphans), "thumbnail_sets": len(orphan_thumbnails)})
    return len(orphans) + len(orphan_thumbnails)


def _old_blobs(blobs: Iterable[StoredBlob], cutoff: datetime) -> Iterator[tuple[str, uuid.UUID | None]]:
    """(name, photo id) of the blobs older than `cutoff`; every blob name starts with its photo's id."""
    for blob in blobs:
        if blob.last_modified < cutoff:
            yield blob.name, _as_uuid(blob.name.split("/", 1)[0])


def _existing_photos(db: Database, photo_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    ids = list(photo_ids)
    found: set[uuid.UUID] = set()
    with db.session() as session:
        for start in range(0, len(ids), _BATCH):
            found.update(session.scalars(select(Photo.id).where(Photo.id.in_(ids[start : start + _BATCH]))))
    return found


def _as_uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


class SweeperThread(threading.Thread):
    """Runs the sweeps on a timer inside a worker process (the parent, not the pool children)."""

    def __init__(self, settings: Settings, db: Database, store: BlobStore, celery: Celery) -> None:
        super().__init__(name="photo-sweeper", daemon=True)
        self._settings = settings
        self._db = db
        self._store = store
        self._celery = celery
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = self._settings.sweep_interval_seconds
        orphan_every = max(interval, self._settings.orphan_blob_grace_seconds / 4)
        last_orphan_sweep = 0.0
        elapsed = 0.0
        while not self._stop_event.wait(interval):
            elapsed += interval
            try:
                stuck_after = timedelta(seconds=self._settings.stuck_photo_after_seconds)
                requeue_stuck_photos(self._db, self._celery, stuck_after)
                finish_erasures(self._db, self._celery, stuck_after)
                if elapsed - last_orphan_sweep >= orphan_every:
                    last_orphan_sweep = elapsed
                    delete_orphan_uploads(
                        self._db, self._store, timedelta(seconds=self._settings.orphan_blob_grace_seconds)
                    )
            except Exception as exc:  # the next sweep tries again; a sweep must never stop the worker
                instruments().sweeper_failures.add(1, {"error.type": type(exc).__name__})
                log.warning("sweep failed", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})

    def stop(self) -> None:
        self._stop_event.set()
