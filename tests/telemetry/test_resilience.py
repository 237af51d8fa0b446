"""Telemetry never costs a request or a task: an unreachable endpoint loses spans, nothing else; a stopping
worker sends what it buffered."""

import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.otlp import OtlpReceiver
from tests.fixtures.processes import AppProcess, WebProcess, WorkerProcess
from tests.fixtures.services import free_port
from tests.fixtures.stack import AppEnv
from tests.telemetry.conftest import FAST_EXPORT
from tests.telemetry.helpers import RUN_SPAN
from tests.worker import imagefactory


def stops_cleanly(process: AppProcess, timeout: float = 25) -> bool:
    """SIGTERM, and the process exits on its own (AppProcess.stop would SIGKILL a hung one)."""
    assert process.proc is not None
    process.signal(signal.SIGTERM)
    code = process.proc.wait(timeout)
    process.proc = None
    return code != -signal.SIGKILL


def test_unreachable_endpoint_never_fails_a_request_or_a_task(traced_env: AppEnv, log_dir: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    env = traced_env.with_(OTEL_EXPORTER_OTLP_ENDPOINT=closed)
    web = WebProcess(env, log_dir, extra_env=FAST_EXPORT).start()
    worker = WorkerProcess(env, log_dir, extra_env=FAST_EXPORT, name="unreachable").start()
    try:
        restaurant_id = create_restaurant(web.url)
        photo_ids = post_review(web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(900, 600))] * 2)
        results = wait_for_photos(web.url, photo_ids, timeout=60)
        assert {result["status"] for result in results.values()} == {"ready"}
        refused = httpx.post(
            f"{web.url}/api/restaurants/{restaurant_id}/reviews",
            data={"user_name": "U", "rating": "1"},
            files=[("photos", ("x.jpg", b"not an image" * 100))],
            timeout=30,
        )
        assert refused.status_code == 415
        assert httpx.get(f"{web.url}/readyz", timeout=15).status_code == 200
        time.sleep(1)  # a few export attempts have failed by now
        logs = web.log() + worker.log()
        assert "Connection refused" in logs and "while exporting" in logs, "the exporters did try, and said so"
    finally:
        assert stops_cleanly(worker) and stops_cleanly(web), "a stop must not hang on the endpoint"


def test_worker_sends_buffered_spans_when_it_stops(
    traced_env: AppEnv, log_dir: Path, otlp: OtlpReceiver, web: WebProcess
) -> None:
    # Spans would wait ten minutes for their batch: only the shutdown flush can deliver them in time.
    slow_batches = {**FAST_EXPORT, "OTEL_BSP_SCHEDULE_DELAY": "600000"}
    worker = WorkerProcess(traced_env, log_dir, extra_env=slow_batches, name="flusher").start()
    try:
        [photo_id] = post_review(web.url, create_restaurant(web.url), [("a.jpg", imagefactory.jpeg(640, 480))])
        wait_for_photos(web.url, [photo_id])
        time.sleep(1)

        def task_spans(receiver: OtlpReceiver) -> list[object]:
            return [
                s for s in receiver.spans if s.name == RUN_SPAN and s.attributes.get("restaurant.photo.id") == photo_id
            ]

        assert not task_spans(otlp), "the batch was sent early: this test would prove nothing"
    finally:
        assert stops_cleanly(worker)
    otlp.wait_for(task_spans, timeout=10, what="the stopped worker's task span")


@pytest.fixture(autouse=True)
def _fresh_receiver(otlp: OtlpReceiver) -> None:
    otlp.clear()
