"""One photo's journey is one trace: web request, enqueue, the Celery task, blob and database work, its end."""

import json

import httpx

from restaurant_shared.telemetry import tracing
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.otlp import OtlpReceiver
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import RedisServer
from tests.telemetry.helpers import run_span, server_span, trace_of
from tests.worker import imagefactory

REVIEW_ROUTE = "POST /api/restaurants/{restaurant_id}/reviews"


def test_review_with_a_photo_is_one_trace_across_web_and_worker(
    web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver
) -> None:
    restaurant_id = create_restaurant(web.url)
    [photo_id] = post_review(web.url, restaurant_id, [("p.jpg", imagefactory.jpeg(1200, 900))])
    assert wait_for_photos(web.url, [photo_id])[photo_id]["status"] == "ready"

    run = run_span(otlp, photo_id)
    trace = trace_of(otlp, run)
    assert {span.service for span in trace.spans} == {"restaurant-web", "restaurant-worker"}

    # worker's task <- web's Celery producer <- the enqueue <- the request, which is the trace's root
    producer = trace.parent(run)
    assert run.kind == "CONSUMER" and run.service == "restaurant-worker"
    assert producer is not None and producer.kind == "PRODUCER" and producer.service == "restaurant-web"
    assert producer.name == "apply_async/restaurant.make_thumbnails"
    enqueue = trace.parent(producer)
    assert enqueue is not None and enqueue.name == "enqueue thumbnails"
    assert enqueue.attributes[tracing.PHOTO_ID] == photo_id
    request = trace.parent(enqueue)
    assert request is not None and request.kind == "SERVER" and request.name == REVIEW_ROUTE
    assert request.parent_span_id == "" and trace.ancestors(run)[-1] == request

    review_id = httpx.get(f"{web.url}/api/restaurants/{restaurant_id}").json()["reviews"][0]["id"]
    assert request.attributes[tracing.REVIEW_ID] == review_id
    assert request.attributes[tracing.RESTAURANT_ID] == restaurant_id
    assert request.attributes[tracing.PHOTO_IDS] == [photo_id]
    assert run.attributes[tracing.PHOTO_ID] == photo_id
    assert run.attributes[tracing.PHOTO_OUTCOME] == "ready"

    # The upload's blob writes and its database transaction sit under the request...
    under_request = {span.name for span in trace.descendants(request) if span.service == "restaurant-web"}
    assert {"BlobClient.upload_blob", "INSERT"} <= under_request  # a small photo is one Put Blob
    # ...and the task's blob get, blob puts and the photo's updates (processing, then ready) under the task.
    under_task = trace.descendants(run)
    names = [span.name for span in under_task]
    assert names.count("BlobClient.download_blob") == 1
    assert names.count("BlobClient.upload_blob") == 2  # one per thumbnail size
    updates = [span.attributes["db.statement"] for span in under_task if span.name == "UPDATE"]
    assert any("status=" in statement and "attempts" in statement for statement in updates)
    assert any("thumbnail_sizes" in statement for statement in updates)
    assert all(span.service == "restaurant-worker" for span in under_task)


def test_worker_log_lines_carry_the_trace_and_span_ids(
    web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver
) -> None:
    restaurant_id = create_restaurant(web.url)
    [photo_id] = post_review(web.url, restaurant_id, [("p.jpg", imagefactory.jpeg(640, 480))])
    wait_for_photos(web.url, [photo_id])
    run = run_span(otlp, photo_id)

    finished = [
        json.loads(line)
        for line in worker.log().splitlines()
        if line.startswith("{") and photo_id in line and '"task finished"' in line
    ]
    assert finished, "no JSON log line for the task"
    assert finished[-1]["trace_id"] == run.trace_id and finished[-1]["span_id"] == run.span_id

    exported = otlp.wait_for(
        lambda receiver: [log for log in receiver.logs if log.body == "task finished" and log.trace_id == run.trace_id],
        what="the task's log record",
    )
    assert exported[0].service == "restaurant-worker" and exported[0].span_id == run.span_id
    assert exported[0].attributes["photo_id"] == photo_id


def test_rejected_upload_carries_its_reason(web: WebProcess, otlp: OtlpReceiver) -> None:
    restaurant_id = create_restaurant(web.url)
    refused = {
        "unsupported_image": [("notes.jpg", b"these are not the pixels you are looking for" * 100)],
        "too_many_photos": [(f"p{i}.jpg", imagefactory.jpeg(64, 64)) for i in range(6)],
    }
    for reason, photos in refused.items():
        response = httpx.post(
            f"{web.url}/api/restaurants/{restaurant_id}/reviews",
            data={"user_name": "R", "rating": "3"},
            files=[("photos", photo) for photo in photos],
            timeout=30,
        )
        assert response.status_code in (415, 422), response.text
        span = server_span(otlp, REVIEW_ROUTE, **{tracing.UPLOAD_REJECTED_REASON: reason})
        assert span.attributes["http.status_code"] == response.status_code
        assert tracing.REVIEW_ID not in span.attributes


def test_failed_thumbnail_carries_its_reason(web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver) -> None:
    restaurant_id = create_restaurant(web.url)
    corrupt = imagefactory.truncated(imagefactory.jpeg(640, 480), 0.5)
    [photo_id] = post_review(web.url, restaurant_id, [("corrupt.jpg", corrupt)])
    photo = wait_for_photos(web.url, [photo_id])[photo_id]
    assert photo["status"] == "failed"

    run = run_span(otlp, photo_id)
    assert run.attributes[tracing.PHOTO_FAILURE_KIND] == "bad_image"
    assert run.attributes[tracing.PHOTO_FAILURE_REASON] == photo["failure_reason"]
    assert trace_of(otlp, run).parent(run) is not None, "the failed task is still part of the upload's trace"


def test_sweeper_re_enqueue_links_to_the_upload_trace(
    web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver, redis_server: RedisServer
) -> None:
    restaurant_id = create_restaurant(web.url)
    redis_server.stop()  # the enqueue fails: the photo stays pending, with its upload's trace context
    try:
        [photo_id] = post_review(web.url, restaurant_id, [("p.jpg", imagefactory.jpeg(400, 300))])
    finally:
        redis_server.start()
    upload = server_span(otlp, REVIEW_ROUTE, **{tracing.PHOTO_IDS: [photo_id]})
    assert wait_for_photos(web.url, [photo_id], timeout=60)[photo_id]["status"] == "ready"

    run = run_span(otlp, photo_id)
    assert run.trace_id != upload.trace_id, "a re-enqueue starts its own trace"
    trace = trace_of(otlp, run)
    sweeper_enqueue = trace.ancestors(run)[-1]
    assert sweeper_enqueue.name == "enqueue thumbnails" and sweeper_enqueue.service == "restaurant-worker"
    assert sweeper_enqueue.attributes[tracing.PHOTO_ID] == photo_id
    assert sweeper_enqueue.links == [(upload.trace_id, upload.span_id)]
    assert trace.parent(run) is not None and trace.parent(run).name == "enqueue thumbnails"  # type: ignore[union-attr]
