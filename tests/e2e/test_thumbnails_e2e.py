"""Web and a real Celery worker process against Postgres, Redis and Azurite: photos become thumbnails."""

import io
import time

import httpx
from PIL import Image
from sqlalchemy import create_engine, text

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import RedisServer
from tests.fixtures.stack import AppEnv
from tests.worker import imagefactory


def smooth_png(width: int, height: int) -> bytes:
    """A large PNG that compresses to little: slow to decode, small to upload."""
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def photo_status(settings: Settings, photo_id: str) -> str:
    engine = create_engine(AppEnv.database_url(settings))
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM photo WHERE id = :id"), {"id": photo_id}).scalar_one()
    engine.dispose()
    return str(status)


def test_uploaded_photos_become_webp_thumbnails(web: WebProcess, worker: WorkerProcess) -> None:
    restaurant_id = create_restaurant(web.url)
    photo_ids = post_review(
        web.url, restaurant_id, [("big.jpg", imagefactory.jpeg(2400, 1600)), ("small.png", imagefactory.png(300, 200))]
    )
    results = wait_for_photos(web.url, photo_ids)
    big, small = (results[photo_id] for photo_id in photo_ids)
    assert big["status"] == small["status"] == "ready"
    assert (big["width"], big["height"]) == (2400, 1600)
    assert set(big["urls"]) == {"320", "1280"}
    for size, expected in (("320", (320, 213)), ("1280", (1280, 853))):
        response = httpx.get(web.url + big["urls"][size], timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert "immutable" in response.headers["cache-control"]
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "WEBP"
        assert image.size == expected
    # Never upscaled: a 300×200 original stays 300×200 at both sizes.
    assert Image.open(io.BytesIO(httpx.get(web.url + small["urls"]["1280"]).content)).size == (300, 200)
    assert '"outcome": "ready"' in worker.log() and photo_ids[0] in worker.log()


def test_corrupt_photo_fails_with_reason_and_next_photo_still_succeeds(web: WebProcess, worker: WorkerProcess) -> None:
    restaurant_id = create_restaurant(web.url)
    good = imagefactory.jpeg(640, 480)
    corrupt = imagefactory.truncated(good, 0.5)  # a valid header, then the data just stops
    [bad_id] = post_review(web.url, restaurant_id, [("corrupt.jpg", corrupt)])
    [good_id] = post_review(web.url, restaurant_id, [("good.jpg", good)])
    results = wait_for_photos(web.url, [bad_id, good_id])
    assert results[bad_id]["status"] == "failed"
    assert results[bad_id]["failure_reason"]
    assert results[good_id]["status"] == "ready"
    assert worker.alive()
    page = httpx.get(f"{web.url}/restaurants/{restaurant_id}").text
    assert "could not be processed" in page


def test_worker_killed_mid_task_photo_still_ends_ready(
    web: WebProcess, app_env: AppEnv, log_dir, settings: Settings, clean_state: None
) -> None:
    first = WorkerProcess(app_env, log_dir, concurrency=1, name="doomed").start()
    restaurant_id = create_restaurant(web.url)
    # A large PNG cannot be decoded at reduced size, so processing takes long enough to be caught.
    [photo_id] = post_review(web.url, restaurant_id, [("slow.png", smooth_png(6000, 4000))])
    deadline = time.monotonic() + 30
    while photo_status(settings, photo_id) != "processing":
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.01)
    first.kill()
    assert photo_status(settings, photo_id) == "processing"
    second = WorkerProcess(app_env, log_dir, concurrency=1, name="successor").start()
    try:
        assert wait_for_photos(web.url, [photo_id], timeout=60)[photo_id]["status"] == "ready"
    finally:
        second.stop()


def test_broker_down_during_upload_sweeper_brings_photos_to_ready(
    web: WebProcess, worker: WorkerProcess, redis_server: RedisServer
) -> None:
    restaurant_id = create_restaurant(web.url)
    redis_server.stop()
    try:
        photo_ids = [
            photo_id
            for i in range(3)
            for photo_id in post_review(web.url, restaurant_id, [(f"p{i}.jpg", imagefactory.jpeg(400, 300))])
        ]
        statuses = {httpx.get(f"{web.url}/api/photos/{pid}").json()["status"] for pid in photo_ids}
        assert statuses == {"pending"}
    finally:
        redis_server.start()
    results = wait_for_photos(web.url, photo_ids, timeout=90)
    assert {body["status"] for body in results.values()} == {"ready"}


def test_running_the_task_twice_gives_the_same_result(
    web: WebProcess, worker: WorkerProcess, blob_store: BlobStore, app_env: AppEnv
) -> None:
    from restaurant_shared.db import Database
    from restaurant_worker.processing import process_photo

    restaurant_id = create_restaurant(web.url)
    [photo_id] = post_review(web.url, restaurant_id, [("p.jpg", imagefactory.jpeg(900, 700))])
    first = wait_for_photos(web.url, [photo_id])[photo_id]
    before = b"".join(blob_store.open_thumbnail(f"{photo_id}/1280.webp"))
    settings = app_env.settings()
    db = Database(settings)
    import uuid

    outcome = process_photo(db, blob_store, settings, uuid.UUID(photo_id))
    db.dispose()
    assert outcome.status == "skipped"  # ready photos are left alone
    after = httpx.get(f"{web.url}/api/photos/{photo_id}").json()
    assert after == first
    assert b"".join(blob_store.open_thumbnail(f"{photo_id}/1280.webp")) == before
