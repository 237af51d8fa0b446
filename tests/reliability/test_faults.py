"""Dependencies fail under real processes; afterwards every accepted photo ends finished and nothing points
at a missing blob. (Broker down and a worker SIGKILLed mid-task are in tests/e2e/test_thumbnails_e2e.py.)"""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import Azurite, PostgresServer
from tests.fixtures.stack import AppEnv
from tests.reliability.conftest import NO_RATE_LIMIT
from tests.reliability.hostile import review_body
from tests.reliability.state import assert_nothing_lost, photo_rows, query, raw_names, review_photo_counts
from tests.worker import imagefactory

STORAGE_MESSAGE = "Photo storage is unavailable right now. Nothing was saved"
DATABASE_MESSAGE = "The database is unavailable right now. Nothing was saved"
# The sweeper must not re-enqueue a photo while its task is still retrying: in production the stuck
# threshold (300 s) is longer than a task's whole retry chain (about a minute); the suite's 3 s is not.
PATIENT_SWEEPER = {"STUCK_PHOTO_AFTER_SECONDS": "60"}


@pytest.fixture
def start_worker(app_env: AppEnv, log_dir: Path) -> Iterator:
    started: list[WorkerProcess] = []

    def start(**extra_env: str) -> WorkerProcess:
        process = WorkerProcess(app_env, log_dir, extra_env=extra_env, name=f"worker{len(started)}").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def storage_down(azurite: Azurite | None) -> Iterator[Azurite]:
    if azurite is None:
        pytest.skip("needs the Azurite started by the test session")
    yield azurite
    azurite.start()


def wait_for_log(process: WorkerProcess, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in process.log():
        assert time.monotonic() < deadline, f"{text!r} not in the {process.name} log after {timeout} s"
        time.sleep(0.2)


def test_blob_storage_down_during_upload_is_503_page_and_json_and_writes_nothing(
    web: WebProcess, storage_down: Azurite, settings: Settings, blob_store: BlobStore, clean_state: None
) -> None:
    restaurant_id = create_restaurant(web.url)
    photo = imagefactory.jpeg(640, 480)
    storage_down.stop()

    api = httpx.post(
        f"{web.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "Ann", "rating": "4"},
        files=[("photos", ("a.jpg", photo, "image/jpeg"))],
        timeout=60,
    )
    assert api.status_code == 503
    assert api.json()["detail"].startswith(STORAGE_MESSAGE)
    assert api.headers["retry-after"]

    with httpx.Client(base_url=web.url, timeout=60) as browser:
        browser.get("/restaurants/new")
        form = review_body([("a.jpg", photo)], csrf_token=browser.cookies["csrftoken"])
        page = browser.post(
            f"/restaurants/{restaurant_id}/reviews", content=form.body(), headers={"Content-Type": form.content_type}
        )
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert STORAGE_MESSAGE in page.text

    ready = httpx.get(f"{web.url}/readyz", timeout=60)
    assert ready.status_code == 503 and ready.json()["checks"]["blob"].startswith("unavailable")
    assert query(settings, "SELECT count(*) FROM review")[0][0] == 0
    assert photo_rows(settings) == []

    storage_down.start()
    assert raw_names(blob_store) == set()  # nothing half-written
    [photo_id] = post_review(web.url, restaurant_id, [("a.jpg", photo)])  # and it works again at once
    assert photo_id in raw_names(blob_store)


def test_blob_storage_down_while_the_worker_runs_retries_until_ready(
    web: WebProcess, start_worker, storage_down: Azurite, settings: Settings, blob_store: BlobStore, clean_state: None
) -> None:
    restaurant_id = create_restaurant(web.url)
    photo_ids = post_review(web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(800, 600))])
    storage_down.stop()
    worker = start_worker(**PATIENT_SWEEPER)
    wait_for_log(worker, '"outcome": "retry"')
    assert {row.status for row in photo_rows(settings)} <= {"pending", "processing"}
    storage_down.start()
    results = wait_for_photos(web.url, photo_ids, timeout=90)
    assert {photo["status"] for photo in results.values()} == {"ready"}
    assert assert_nothing_lost(settings, blob_store) == set()


def test_blob_storage_down_beyond_the_retry_budget_fails_the_photo_with_a_reason(
    web: WebProcess, start_worker, storage_down: Azurite, settings: Settings, blob_store: BlobStore, clean_state: None
) -> None:
    restaurant_id = create_restaurant(web.url)
    [photo_id] = post_review(web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(800, 600))])
    storage_down.stop()
    start_worker(TASK_MAX_RETRIES="1", **PATIENT_SWEEPER)
    photo = wait_for_photos(web.url, [photo_id], timeout=90)[photo_id]
    assert photo["status"] == "failed"
    assert photo["failure_reason"] == "Storage or database unavailable after 2 attempts; the photo was not processed."
    storage_down.start()
    assert assert_nothing_lost(settings, blob_store) == set()


class Traffic(threading.Thread):
    """Reads and review posts in a loop, recording (start time, kind, status or error)."""

    def __init__(self, base_url: str, restaurant_id: int) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.restaurant_id = restaurant_id
        self.results: list[tuple[float, str, int | str, str]] = []
        self.stop_event = threading.Event()
        self.photo = imagefactory.jpeg(320, 240)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while not self.stop_event.is_set():
                for kind in ("read", "post"):
                    started = time.monotonic()
                    try:
                        if kind == "read":
                            response = client.get(f"/api/restaurants/{self.restaurant_id}")
                        else:
                            response = client.post(
                                f"/api/restaurants/{self.restaurant_id}/reviews",
                                data={"user_name": "Traffic", "rating": "3"},
                                files=[("photos", ("t.jpg", self.photo, "image/jpeg"))],
                            )
                        self.results.append((started, kind, response.status_code, response.text[:300]))
                    except httpx.HTTPError as exc:
                        self.results.append((started, kind, type(exc).__name__, ""))
                time.sleep(0.05)


def test_postgres_restart_under_traffic_recovers_and_readyz_reports_the_outage(
    web: WebProcess,
    start_worker,
    postgres: PostgresServer | None,
    settings: Settings,
    blob_store: BlobStore,
    clean_state: None,
) -> None:
    if postgres is None:
        pytest.skip("needs the Postgres started by the test session")
    start_worker()
    restaurant_id = create_restaurant(web.url)
    traffic = Traffic(web.url, restaurant_id)
    traffic.start()
    try:
        time.sleep(1.5)
        down_at = time.monotonic()
        postgres.stop()
        ready = httpx.get(f"{web.url}/readyz", timeout=30)
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"].startswith("unavailable")
        assert ready.json()["checks"]["blob"] == "ok"
        time.sleep(1.5)
        postgres.start()
        up_at = time.monotonic()
        assert httpx.get(f"{web.url}/readyz", timeout=30).status_code == 200
        time.sleep(2)
    finally:
        traffic.stop_event.set()
        traffic.join(30)

    before = [r for r in traffic.results if r[0] < down_at - 0.5]
    during = [r for r in traffic.results if down_at + 0.5 < r[0] < up_at - 0.5]
    after = [r for r in traffic.results if r[0] > up_at]
    assert before and during and after
    assert {r[2] for r in before} <= {200, 201}, before
    for _, _, status, body in during:
        assert status == 503 and DATABASE_MESSAGE in body, (status, body)
    assert {r[2] for r in after} <= {200, 201}, [r for r in after if r[2] not in (200, 201)]
    assert not [r for r in traffic.results if r[2] == 500 or isinstance(r[2], str)]

    assert assert_nothing_lost(settings, blob_store) == set()
    assert set(review_photo_counts(settings).values()) == {1}  # every saved review has its photo


def test_web_killed_during_an_upload_leaves_no_review_and_the_orphan_upload_is_swept(
    app_env: AppEnv, log_dir: Path, start_worker, settings: Settings, blob_store: BlobStore, clean_state: None
) -> None:
    doomed = WebProcess(app_env, log_dir, extra_env=NO_RATE_LIMIT).start()
    restaurant_id = create_restaurant(doomed.url)
    form = review_body([("first.jpg", imagefactory.jpeg(800, 600)), ("second.jpg", imagefactory.jpeg(800, 600))])
    body = form.body()
    second_part = body.index(b'filename="second.jpg"') + 2000
    killed = threading.Event()
    outcome: list[object] = []

    def stalled_body() -> Iterator[bytes]:
        yield body[:second_part]  # the first photo whole, the second just begun
        killed.wait(30)
        yield body[second_part:]

    def upload() -> None:
        try:
            outcome.append(
                httpx.post(
                    f"{doomed.url}/api/restaurants/{restaurant_id}/reviews",
                    content=stalled_body(),
                    headers={"Content-Type": form.content_type},
                    timeout=30,
                )
            )
        except httpx.HTTPError as exc:
            outcome.append(exc)

    client = threading.Thread(target=upload)
    client.start()
    deadline = time.monotonic() + 30
    while not raw_names(blob_store):  # the first photo is in Blob; the review is not in Postgres yet
        assert time.monotonic() < deadline, "the first photo never reached Blob"
        time.sleep(0.05)
    doomed.kill()
    killed.set()
    client.join(30)

    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError), outcome  # the client sees an error
    assert review_photo_counts(settings) == {}  # never a review without its photos
    orphans = assert_nothing_lost(settings, blob_store)
    assert len(orphans) == 1

    successor = WebProcess(app_env, log_dir, extra_env=NO_RATE_LIMIT).start()
    try:
        start_worker(ORPHAN_BLOB_GRACE_SECONDS="3")
        deadline = time.monotonic() + 20
        while raw_names(blob_store) & orphans:
            assert time.monotonic() < deadline, "the orphan upload was not removed"
            time.sleep(0.2)
        # The sweep removes only orphans: an accepted photo keeps its upload and becomes ready.
        photo_ids = post_review(successor.url, restaurant_id, [("again.jpg", imagefactory.jpeg(800, 600))])
        assert wait_for_photos(successor.url, photo_ids)[photo_ids[0]]["status"] == "ready"
        time.sleep(4)  # longer than the grace period: the photo's upload must survive the next sweeps
        assert assert_nothing_lost(settings, blob_store) == set()
    finally:
        successor.stop()
