"""Erasure reaches storage: after a moderator deletes, no row and no blob is left, whatever the worker was doing.

Real processes: gunicorn with AUTH_MODE=platform (the moderator's principal header as the platform would
send it), a Celery worker with its sweeper (every second, stuck-photo delay 3 s), Postgres and Azurite.
"""

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from restaurant_shared.aggregates import recount
from restaurant_shared.blobstore import BlobStore, raw_blob_name, thumbnail_blob_name
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.e2e.test_thumbnails_e2e import photo_status, smooth_png
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv
from tests.web.test_moderation import MODERATOR
from tests.worker import imagefactory


@pytest.fixture(scope="module")
def moderated_web(app_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(app_env, log_dir, extra_env={"AUTH_MODE": "platform", "RATE_LIMIT_REVIEWS": ""}).start()
    yield process
    process.stop()


def blobs_of(store: BlobStore, photo_ids: list[str]) -> list[str]:
    """Every blob, raw or thumbnail, that belongs to one of these photos."""
    found = []
    for container in (store.uploads, store.thumbnails):
        for blob in store._client.get_container_client(container).list_blobs():
            if blob.name.split("/")[0] in photo_ids:
                found.append(f"{container}/{blob.name}")
    return found


def eventually(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def count(settings: Settings, sql: str, **params: object) -> int:
    engine = create_engine(AppEnv.database_url(settings))
    with engine.connect() as conn:
        value = int(conn.execute(text(sql), params).scalar_one())
    engine.dispose()
    return value


def test_deleting_a_restaurant_erases_every_row_and_blob_even_of_photos_in_processing(
    moderated_web: WebProcess, worker: WorkerProcess, blob_store: BlobStore, settings: Settings
) -> None:
    keep = create_restaurant(moderated_web.url, "Staying Open")
    kept_photo = post_review(moderated_web.url, keep, [("k.jpg", imagefactory.jpeg(300, 200))])
    doomed = create_restaurant(moderated_web.url, "Closing Down")
    ready = [
        pid
        for i in range(3)
        for pid in post_review(moderated_web.url, doomed, [(f"r{i}.jpg", imagefactory.jpeg(400, 300))])
    ]
    wait_for_photos(moderated_web.url, ready + kept_photo)
    slow = post_review(moderated_web.url, doomed, [("slow.png", smooth_png(6000, 4000))])
    queued = post_review(moderated_web.url, doomed, [("q.jpg", imagefactory.jpeg(800, 600))])
    eventually(lambda: photo_status(settings, slow[0]) == "processing", "the slow photo never started")
    photo_ids = ready + slow + queued
    assert blobs_of(blob_store, photo_ids)

    response = httpx.delete(f"{moderated_web.url}/api/restaurants/{doomed}", headers=MODERATOR, timeout=10)
    assert response.status_code == 204
    assert count(settings, "SELECT count(*) FROM review WHERE restaurant_id = :id", id=doomed) == 0
    assert count(settings, "SELECT count(*) FROM photo WHERE id::text = ANY(:ids)", ids=photo_ids) == 0
    eventually(lambda: not blobs_of(blob_store, photo_ids), "blobs of deleted photos are still there")
    # The sweeper's second pass (after the stuck-photo delay) finds nothing more and forgets the erasures.
    eventually(lambda: count(settings, "SELECT count(*) FROM photo_erasure") == 0, "erasures not finished")
    assert not blobs_of(blob_store, photo_ids)
    # The other restaurant is untouched, and every aggregate matches a recount.
    assert len(blobs_of(blob_store, kept_photo)) == 3  # raw + two thumbnails
    assert httpx.get(f"{moderated_web.url}/api/restaurants/{keep}").json()["review_count"] == 1
    db = Database(settings)
    try:
        assert recount(db, fix=False).restaurants_drifted == 0
    finally:
        db.dispose()
    assert worker.alive()


def test_photo_deleted_while_the_worker_makes_its_thumbnails_leaves_nothing(
    moderated_web: WebProcess, worker: WorkerProcess, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = create_restaurant(moderated_web.url)
    [photo_id] = post_review(moderated_web.url, restaurant, [("slow.png", smooth_png(6000, 4000))])
    eventually(lambda: photo_status(settings, photo_id) == "processing", "the task never started")
    response = httpx.delete(f"{moderated_web.url}/api/photos/{photo_id}", headers=MODERATOR, timeout=10)
    assert response.status_code == 204
    eventually(lambda: f'"photo_id": "{photo_id}"' in worker.log() and '"outcome": "deleted"' in worker.log(),
               "the task did not notice the deletion")  # fmt: skip
    assert not blobs_of(blob_store, [photo_id])
    detail = httpx.get(f"{moderated_web.url}/api/restaurants/{restaurant}").json()
    assert detail["reviews"][0]["photos"] == [] and detail["cover_photo_url"] is None


def test_sweeper_erases_what_was_left_after_a_crash(
    worker: WorkerProcess, blob_store: BlobStore, settings: Settings
) -> None:
    """A blob written after the first erasure (a worker that crashed before cleaning up) goes on the second."""
    photo_id = uuid.uuid4()
    blob_store.put_raw(raw_blob_name(photo_id), imagefactory.jpeg(32, 32), "image/jpeg")
    blob_store.put_thumbnail(thumbnail_blob_name(photo_id, 320), b"RIFF....WEBP")
    engine = create_engine(AppEnv.database_url(settings))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO photo_erasure (photo_id, requested_at) VALUES (:id, now() - interval '1 hour')"),
                     {"id": photo_id})  # fmt: skip
    engine.dispose()
    eventually(lambda: not blobs_of(blob_store, [str(photo_id)]), "the sweeper left the blobs")
    eventually(lambda: count(settings, "SELECT count(*) FROM photo_erasure") == 0, "the record stayed")


def test_erasure_never_touches_a_photo_that_still_exists(
    moderated_web: WebProcess, worker: WorkerProcess, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = create_restaurant(moderated_web.url)
    [photo_id] = post_review(moderated_web.url, restaurant, [("p.jpg", imagefactory.jpeg(300, 200))])
    wait_for_photos(moderated_web.url, [photo_id])
    from restaurant_shared.taskqueue import create_celery, enqueue_erasure

    enqueue_erasure(create_celery(settings), [uuid.UUID(photo_id)])  # by mistake
    eventually(lambda: '"photos erased"' in worker.log(), "the erasure task did not run")
    assert len(blobs_of(blob_store, [photo_id])) == 3
    assert httpx.get(f"{moderated_web.url}/api/photos/{photo_id}").json()["status"] == "ready"


def test_orphan_sweep_also_removes_thumbnails_whose_photo_row_is_gone(
    moderated_web: WebProcess, app_env: AppEnv, log_dir: Path, blob_store: BlobStore, settings: Settings,
    clean_state: None,
) -> None:  # fmt: skip
    """A photo deleted outside the app (no erasure record): the slow orphan sweep still finds its blobs."""
    restaurant = create_restaurant(moderated_web.url)
    [kept] = post_review(moderated_web.url, restaurant, [("k.jpg", imagefactory.jpeg(300, 200))])
    orphan = uuid.uuid4()
    blob_store.put_thumbnail(thumbnail_blob_name(orphan, 320), b"RIFF....WEBP")
    worker = WorkerProcess(app_env, log_dir, extra_env={"ORPHAN_BLOB_GRACE_SECONDS": "2"}, name="orphans").start()
    try:
        wait_for_photos(moderated_web.url, [kept])
        eventually(lambda: not blobs_of(blob_store, [str(orphan)]), "the orphan thumbnail stayed")
        time.sleep(3)  # past the grace period: a photo with a row keeps all of its blobs
        assert len(blobs_of(blob_store, [kept])) == 3
    finally:
        worker.stop()
