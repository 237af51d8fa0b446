"""The metrics an operator graphs arrive, from the service that owns each."""

import httpx

from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.otlp import OtlpReceiver, ReceivedPoint
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.worker import imagefactory


def total(otlp: OtlpReceiver, metric: str, expected: float, **attributes: object) -> list[ReceivedPoint]:
    """Wait until the processes' latest points add up to `expected`; returns those points."""

    def found(receiver: OtlpReceiver) -> list[ReceivedPoint]:
        points = receiver.latest_points(metric, **attributes)
        summed = sum((point.value if point.count is None else point.count) or 0 for point in points)
        return points if summed == expected else []

    return otlp.wait_for(found, what=f"{metric} {attributes} adding up to {expected}")


def test_uploads_photos_and_the_queue_are_measured(web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver) -> None:
    restaurant_id = create_restaurant(web.url)
    good = post_review(web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(800, 600))] * 2)
    [bad] = post_review(web.url, restaurant_id, [("b.jpg", imagefactory.truncated(imagefactory.jpeg(640, 480)))])
    refused = httpx.post(
        f"{web.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "M", "rating": "2"},
        files=[("photos", ("big.jpg", imagefactory.jpeg(64, 64) + bytes(3 * 1024 * 1024)))],
        timeout=30,
    )
    assert refused.status_code == 413
    wait_for_photos(web.url, [*good, bad])

    accepted = total(otlp, "restaurant.uploads.accepted", 2)
    assert {point.service for point in accepted} == {"restaurant-web"}
    total(otlp, "restaurant.photos.accepted", 3)
    [too_large] = total(otlp, "restaurant.uploads.rejected", 1, reason="too_large")
    assert too_large.service == "restaurant-web"

    ready = total(otlp, "restaurant.photos.finished", 2, state="ready")
    assert {point.service for point in ready} == {"restaurant-worker"}
    total(otlp, "restaurant.photos.finished", 1, state="failed", reason="bad_image")

    durations = total(otlp, "restaurant.thumbnail.duration", 2, outcome="ready")
    assert all(point.total and 0 < point.total < 60 for point in durations)
    journeys = total(otlp, "restaurant.photo.upload_to_ready", 2)
    assert all(point.total and point.total > 0 for point in journeys)

    [depth] = total(otlp, "restaurant.queue.depth", 0, **{"messaging.destination.name": "thumbnails"})
    assert depth.service == "restaurant-worker"  # one reporter: the worker's parent process
