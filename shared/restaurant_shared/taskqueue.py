"""The task contract between web and worker, and the Celery configuration both of them use.

Web enqueues by task name, so it never imports worker code. No result backend: a photo's state lives in
Postgres, which is also the delivery guarantee (the sweeper re-enqueues what a broker lost).
"""

import uuid
from collections.abc import Sequence
from typing import Any

from celery import Celery
from opentelemetry.trace import Link

from restaurant_shared.settings import Settings
from restaurant_shared.telemetry import tracing

MAKE_THUMBNAILS = "restaurant.make_thumbnails"
ERASE_PHOTOS = "restaurant.erase_photos"
# Photo ids per erasure task: deleting a busy restaurant becomes a few tasks of bounded size.
ERASE_BATCH = 200
SWEEP_STUCK_PHOTOS = "restaurant.sweep_stuck_photos"
DELETE_ORPHAN_UPLOADS = "restaurant.delete_orphan_uploads"

# Longer than the slowest task (a few seconds) with a wide margin; Redis redelivers an unacknowledged
# task only after this, so it also bounds how long a task of a killed worker waits.
VISIBILITY_TIMEOUT_SECONDS = 300


def celery_config(settings: Settings) -> dict[str, Any]:
    transport_options: dict[str, Any] = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
    if settings.celery_broker_url.startswith("azurestoragequeues://"):
        transport_options["polling_interval"] = settings.celery_broker_polling_interval
    else:
        # Fail fast when Redis is down: an upload must not wait on the broker (the sweeper catches up).
        transport_options.update(socket_connect_timeout=2, socket_timeout=5)
    return {
        "broker_url": settings.celery_broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_default_queue": "thumbnails",
        "worker_concurrency": settings.worker_concurrency,
    }


def create_celery(settings: Settings, name: str = "restaurant") -> Celery:
    app = Celery(name)
    app.conf.update(celery_config(settings))
    return app


def enqueue_thumbnails(app: Celery, photo_id: uuid.UUID, links: Sequence[Link] = ()) -> None:
    """Send the task; its headers carry the trace context, so the worker's spans join the caller's trace.

    Celery's instrumentation (web, pool children) writes its producer span into the headers itself; the
    worker's parent process has none, and the headers given here are what the task sees.
    """
    with tracing.enqueue_span(photo_id, links):
        app.send_task(MAKE_THUMBNAILS, args=[str(photo_id)], headers=tracing.message_headers())


def enqueue_erasure(app: Celery, photo_ids: Sequence[uuid.UUID]) -> None:
    """Have the worker delete the blobs (raw upload, thumbnails) of photos whose rows are gone."""
    ids = [str(photo_id) for photo_id in photo_ids]
    for start in range(0, len(ids), ERASE_BATCH):
        app.send_task(ERASE_PHOTOS, args=[ids[start : start + ERASE_BATCH]], headers=tracing.message_headers())
