"""The worker's telemetry: what a thumbnail task records about its photo, and the queue depth gauge.

Celery's instrumentation opens the task's span (a child of the web request that enqueued it, through the
task headers); this module adds the photo id, the outcome and, for a failed photo, its reason.
"""

import contextlib
import logging
import uuid
from typing import Any

from celery import Celery
from celery.exceptions import Retry
from sqlalchemy import text

from restaurant_shared.db import Database
from restaurant_shared.telemetry import tracing
from restaurant_shared.telemetry.metrics import instruments
from restaurant_worker import policy

SERVICE_NAME = "restaurant-worker"
_UPLOAD_TO_READY = text(
    "SELECT EXTRACT(EPOCH FROM updated_at - created_at) FROM photo WHERE id = :id AND status = 'ready'"
)
log = logging.getLogger(__name__)


def task_started(photo_id: object) -> None:
    tracing.current_span().set_attribute(tracing.PHOTO_ID, str(photo_id)[:64])


def task_finished(outcome: str, seconds: float, error: BaseException | None = None) -> None:
    tracing.current_span().set_attribute(tracing.PHOTO_OUTCOME, outcome)
    found = instruments()
    found.thumbnail_duration.record(seconds, {"outcome": outcome})
    if isinstance(error, Retry):
        cause = error.exc if isinstance(error.exc, BaseException) else error
        found.task_retries.add(1, {"error.type": policy.original_type(cause).__name__})


def photo_ready(db: Database, photo_id: uuid.UUID) -> None:
    """Count the photo and how long it took since its upload, measured by Postgres's own clock."""
    found = instruments()
    found.photos_finished.add(1, {"state": "ready"})
    try:
        with db.session() as session:
            seconds = session.execute(_UPLOAD_TO_READY, {"id": photo_id}).scalar()
    except Exception as exc:  # the photo is ready; a lost measurement must not fail its task
        log.warning("could not measure upload-to-ready", extra={"photo_id": str(photo_id), "error": type(exc).__name__})
        return
    if seconds is not None:
        found.upload_to_ready.record(float(seconds))


def photo_failed(exc: BaseException, reason: str) -> None:
    kind = policy.failure_kind(exc)
    span = tracing.current_span()
    span.set_attribute(tracing.PHOTO_FAILURE_KIND, kind)
    span.set_attribute(tracing.PHOTO_FAILURE_REASON, reason)
    instruments().photos_finished.add(1, {"state": "failed", "reason": kind})


class QueueDepth:
    """Reads the broker queue's length over one connection of its own, reopened after an error."""

    def __init__(self, celery: Celery) -> None:
        self._celery = celery
        self._connection: Any = None

    @property
    def queue(self) -> str:
        return str(self._celery.conf.task_default_queue)

    def __call__(self) -> int:
        try:
            if self._connection is None:
                self._connection = self._celery.connection_for_read()
            # Declaring (not a passive check) because Redis has no key for an empty queue.
            declared = self._connection.default_channel.queue_declare(queue=self.queue, durable=True, auto_delete=False)
            return int(declared.message_count)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                connection.release()
