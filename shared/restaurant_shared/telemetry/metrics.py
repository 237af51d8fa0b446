"""The metrics an operator graphs. Every attribute is a small, fixed set of codes (a reason, a state), so
the number of series stays bounded whatever people upload."""

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation

from restaurant_shared.telemetry import setup

log = logging.getLogger(__name__)

_SECONDS_TASK = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SECONDS_JOURNEY = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass(frozen=True)
class Instruments:
    uploads_accepted: Counter
    uploads_rejected: Counter
    photos_accepted: Counter
    photos_finished: Counter
    thumbnail_duration: Histogram
    upload_to_ready: Histogram
    task_retries: Counter
    sweeper_requeued: Counter
    sweeper_orphans_deleted: Counter
    sweeper_failures: Counter


_cache: dict[tuple[int, int], Instruments] = {}


def instruments() -> Instruments:
    """This process's instruments, on whichever meter provider it has (a no-op one when telemetry is off)."""
    provider = setup.meter_provider()
    key = (os.getpid(), id(provider))
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _create()
    return found


def _create() -> Instruments:
    meter = setup.meter()
    return Instruments(
        uploads_accepted=meter.create_counter(
            "restaurant.uploads.accepted", unit="{review}", description="Review posts saved, with or without photos"
        ),
        uploads_rejected=meter.create_counter(
            "restaurant.uploads.rejected", unit="{review}", description="Review posts refused, by reason"
        ),
        photos_accepted=meter.create_counter(
            "restaurant.photos.accepted", unit="{photo}", description="Photos stored and waiting for thumbnails"
        ),
        photos_finished=meter.create_counter(
            "restaurant.photos.finished", unit="{photo}", description="Photos that reached ready or failed"
        ),
        thumbnail_duration=meter.create_histogram(
            "restaurant.thumbnail.duration",
            unit="s",
            description="One thumbnail task run, by outcome",
            explicit_bucket_boundaries_advisory=_SECONDS_TASK,
        ),
        upload_to_ready=meter.create_histogram(
            "restaurant.photo.upload_to_ready",
            unit="s",
            description="From the upload's commit to the photo's ready, as Postgres's clock saw it",
            explicit_bucket_boundaries_advisory=_SECONDS_JOURNEY,
        ),
        task_retries=meter.create_counter(
            "restaurant.task.retries", unit="{retry}", description="Thumbnail tasks scheduled again after an error"
        ),
        sweeper_requeued=meter.create_counter(
            "restaurant.sweeper.requeued", unit="{photo}", description="Stuck photos the sweeper enqueued again"
        ),
        sweeper_orphans_deleted=meter.create_counter(
            "restaurant.sweeper.orphans_deleted", unit="{blob}", description="Raw uploads without a photo, deleted"
        ),
        sweeper_failures=meter.create_counter(
            "restaurant.sweeper.failures", unit="{sweep}", description="Sweeps that stopped on an error"
        ),
    )


def observe_queue_depth(queue: str, read: Callable[[], int]) -> None:
    """Report the broker queue's length as a gauge, read when the metrics are collected (never on a task).

    Only the process that registers it reports it: a forked child's copy of the callback stays silent.
    """
    pid = os.getpid()

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        if os.getpid() != pid:
            return []
        try:
            return [Observation(read(), {"messaging.destination.name": queue})]
        except Exception as exc:  # the broker may be down; the gauge then has a gap, which says so
            log.warning("could not read the queue depth: %s", type(exc).__name__)
            return []

    setup.meter().create_observable_gauge(
        "restaurant.queue.depth", callbacks=[callback], unit="{message}", description="Tasks waiting in the broker"
    )
