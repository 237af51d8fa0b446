"""The Celery worker: `celery -A restaurant_worker.app worker`.

Thumbnail and erasure tasks come from the broker; a sweeper thread in each worker re-enqueues photos that a
broker lost (see sweeper.py). The failure policy is declared once, on PhotoTask (see policy.py).
"""

import logging
import time
import uuid
from typing import Any

from celery import Task, bootsteps
from celery.exceptions import Retry
from celery.signals import worker_process_init, worker_process_shutdown
from PIL import Image

from restaurant_shared import telemetry as shared_telemetry
from restaurant_shared.blobstore import BlobStore
from restaurant_shared.db import Database
from restaurant_shared.logging import configure_logging
from restaurant_shared.settings import get_settings
from restaurant_shared.taskqueue import ERASE_PHOTOS, MAKE_THUMBNAILS, create_celery
from restaurant_shared.telemetry import metrics as telemetry_metrics
from restaurant_worker import erasure, policy, telemetry
from restaurant_worker.processing import mark_failed, process_photo
from restaurant_worker.sweeper import SweeperThread

settings = get_settings()
configure_logging(settings.log_level)
# Pillow's own decompression-bomb check, at the same limit the web app enforces on upload (its default,
# 89 MP, would reject photos the web app accepted when MAX_IMAGE_PIXELS is set higher).
Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
log = logging.getLogger("restaurant_worker")

celery = create_celery(settings, name="restaurant-worker")
db = Database(settings)
store = BlobStore.from_settings(settings)


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    # A forked pool process must not share the parent's sockets (Postgres pool, HTTP sessions).
    global store
    db.dispose()
    store = BlobStore.from_settings(settings)
    # Each pool child has its own exporters and threads; nothing of the parent's is used here.
    shared_telemetry.configure(settings, telemetry.SERVICE_NAME)


@worker_process_shutdown.connect
def _flush_telemetry(**_: Any) -> None:
    # Pool children leave through os._exit, which skips atexit: buffered spans are sent here or never.
    shared_telemetry.shutdown()


class PhotoTask(Task):
    """Applies the failure policy and logs one line per task run with photo id, duration and outcome."""

    autoretry_for = policy.TRANSIENT_ERRORS
    dont_autoretry_for = policy.PERMANENT_ERRORS
    retry_backoff = policy.RETRY_BACKOFF_SECONDS
    retry_backoff_max = policy.RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = settings.task_max_retries
    throws = policy.PERMANENT_ERRORS  # expected outcomes: logged without a traceback

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        photo_id = args[0] if args else kwargs.get("photo_id")
        telemetry.task_started(photo_id)
        outcome = "error"
        error: BaseException | None = None
        try:
            result = super().__call__(*args, **kwargs)
            outcome = getattr(result, "status", "done")
            if outcome == "ready" and shared_telemetry.is_enabled(settings):
                telemetry.photo_ready(db, uuid.UUID(str(photo_id)))
            return result
        except Retry as exc:  # autoretry_for turned a transient error into a scheduled retry
            outcome, error = "retry", exc
            raise
        except Exception as exc:
            outcome, error = "failed", exc
            raise
        finally:
            telemetry.task_finished(outcome, time.perf_counter() - started, error)
            log.info(
                "task finished",
                extra={
                    "task": self.name,
                    "task_id": self.request.id,
                    "photo_id": photo_id,
                    "attempt": self.request.retries + 1,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "outcome": outcome,
                },
            )

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        photo_id = _parse_id(args[0] if args else kwargs.get("photo_id"))
        if photo_id is None:
            return
        reason = policy.failure_reason(exc, self.request.retries + 1)
        telemetry.photo_failed(exc, reason)
        try:
            mark_failed(db, photo_id, reason)
        except Exception as db_exc:  # the sweeper will find the photo still processing and retry it
            log.warning(
                "could not mark photo failed", extra={"photo_id": str(photo_id), "error": type(db_exc).__name__}
            )


def _parse_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@celery.task(name=MAKE_THUMBNAILS, base=PhotoTask, bind=True)
def make_thumbnails(self: PhotoTask, photo_id: str) -> Any:
    parsed = _parse_id(photo_id)
    if parsed is None:
        log.warning("ignoring task with a malformed photo id", extra={"photo_id": str(photo_id)[:64]})
        return None
    return process_photo(db, store, settings, parsed)


@celery.task(
    name=ERASE_PHOTOS,
    bind=True,
    autoretry_for=policy.TRANSIENT_ERRORS,
    retry_backoff=policy.RETRY_BACKOFF_SECONDS,
    retry_backoff_max=policy.RETRY_BACKOFF_MAX_SECONDS,
    retry_jitter=True,
    max_retries=settings.task_max_retries,
)
def erase_photos(self: Task, photo_ids: list[str]) -> int:
    # After the last retry the sweeper's pass over photo_erasure still erases them.
    ids = [parsed for parsed in map(_parse_id, photo_ids if isinstance(photo_ids, list) else []) if parsed]
    erased = erasure.erase_photos(db, store, ids)
    log.info("photos erased", extra={"task_id": self.request.id, "count": erased})
    return erased


class SweeperStep(bootsteps.StartStopStep):
    """Starts the sweeper thread with the worker and stops it on shutdown."""

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.thread: SweeperThread | None = None
        self.queue_depth: telemetry.QueueDepth | None = None

    def start(self, worker: Any) -> None:
        # This process forks the pool's children (again, whenever one dies): its telemetry stays its own.
        if shared_telemetry.configure_supervisor(settings, telemetry.SERVICE_NAME):
            self.queue_depth = telemetry.QueueDepth(celery)
            telemetry_metrics.observe_queue_depth(self.queue_depth.queue, self.queue_depth)
        self.thread = SweeperThread(settings, db, store, celery)
        self.thread.start()

    def stop(self, worker: Any) -> None:
        if self.thread is not None:
            self.thread.stop()
        if self.queue_depth is not None:
            self.queue_depth.close()
        shared_telemetry.shutdown()


celery.steps["worker"].add(SweeperStep)
