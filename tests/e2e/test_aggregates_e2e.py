"""Stored aggregates stay exact under concurrency, and the recount finds and repairs drift.

Real processes: gunicorn with two workers takes 50 simultaneous reviews of one restaurant, a Celery worker
turns their photos into thumbnails and offers covers, and the recount command runs as operators run it.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from restaurant_shared.aggregates import recount
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from tests.e2e.helpers import create_restaurant, wait_for_photos
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv, run_command
from tests.worker import imagefactory

CONCURRENT_REVIEWS = 50


@pytest.fixture(scope="module")
def busy_web(app_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(app_env, log_dir, extra_env={"RATE_LIMIT_REVIEWS": ""}).start()
    yield process
    process.stop()


def stored(settings: Settings, restaurant_id: int) -> dict:
    engine = create_engine(AppEnv.database_url(settings))
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT review_count, rating_sum, last_review_at, cover_photo_id FROM restaurant WHERE id = :id"),
            {"id": restaurant_id},
        ).one()
        real = conn.execute(
            text("SELECT count(*), sum(rating), max(created_at) FROM review WHERE restaurant_id = :id"),
            {"id": restaurant_id},
        ).one()
    engine.dispose()
    return {"stored": tuple(row[:3]), "real": (real[0], real[1] or 0, real[2]), "cover": row[3]}


def post(base_url: str, restaurant_id: int, rating: int, photo: bytes | None = None) -> dict:
    response = httpx.post(
        f"{base_url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": f"Guest {rating}", "rating": str(rating)},
        files=[("photos", ("p.jpg", photo, "image/jpeg"))] if photo else [],
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_50_concurrent_reviews_of_one_restaurant_are_each_counted_once(
    busy_web: WebProcess, settings: Settings, clean_state: None
) -> None:
    restaurant_id = create_restaurant(busy_web.url, "Hot Spot")
    ratings = [1 + i % 5 for i in range(CONCURRENT_REVIEWS)]
    with ThreadPoolExecutor(CONCURRENT_REVIEWS) as pool:
        list(pool.map(lambda rating: post(busy_web.url, restaurant_id, rating), ratings))
    counts = stored(settings, restaurant_id)
    assert counts["stored"] == counts["real"]
    assert counts["stored"][:2] == (CONCURRENT_REVIEWS, sum(ratings))
    detail = httpx.get(f"{busy_web.url}/api/restaurants/{restaurant_id}").json()
    assert detail["review_count"] == CONCURRENT_REVIEWS and detail["avg_rating"] == 3.0
    db = Database(settings)
    try:
        assert recount(db, fix=False).restaurants_drifted == 0
    finally:
        db.dispose()


def test_cover_is_the_best_reviews_photo_once_ready(
    busy_web: WebProcess, app_env: AppEnv, log_dir: Path, settings: Settings, clean_state: None
) -> None:
    restaurant_id = create_restaurant(busy_web.url, "Photogenic")
    photo = imagefactory.jpeg(400, 300)
    worker = WorkerProcess(app_env, log_dir).start()
    try:
        with ThreadPoolExecutor(8) as pool:
            reviews = list(pool.map(lambda rating: post(busy_web.url, restaurant_id, rating, photo), [2, 5, 3, 5, 1]))
        wait_for_photos(busy_web.url, [p["id"] for review in reviews for p in review["photos"]])
    finally:
        worker.stop()
    best = max((review for review in reviews if review["rating"] == 5), key=lambda r: (r["created_at"], r["id"]))
    assert str(stored(settings, restaurant_id)["cover"]) == best["photos"][0]["id"]
    listed = httpx.get(f"{busy_web.url}/api/restaurants").json()["items"][0]
    assert listed["cover_photo_url"] == f"/photos/{best['photos'][0]['id']}/320"
    db = Database(settings)
    try:
        assert recount(db, fix=False).restaurants_drifted == 0  # the recount agrees with what the worker chose
    finally:
        db.dispose()


def run_recount(app_env: AppEnv, *args: str) -> str:
    return run_command(app_env, "restaurant_shared.aggregates", *args).stdout


def test_recount_command_reports_drift_then_repairs_it(
    busy_web: WebProcess, app_env: AppEnv, settings: Settings, clean_state: None
) -> None:
    ids = [create_restaurant(busy_web.url, f"Drifting {i}") for i in range(3)]
    for restaurant_id in ids:
        post(busy_web.url, restaurant_id, 4)
        post(busy_web.url, restaurant_id, 2)
    engine = create_engine(AppEnv.database_url(settings))
    with engine.begin() as conn:  # what an older web version, or a hand edit, could leave behind
        conn.execute(text("UPDATE restaurant SET review_count = 1, rating_sum = 4 WHERE id = :id"), {"id": ids[0]})
        conn.execute(text("UPDATE restaurant SET last_review_at = NULL WHERE id = :id"), {"id": ids[1]})
    engine.dispose()

    dry = run_recount(app_env, "--dry-run", "--batch-size", "2")
    assert "checked 3 restaurants; 2 had drift, found (dry run, nothing changed)" in dry
    assert "1 reviews miscounted, 2 rating points off, 1 latest-review dates" in dry
    assert stored(settings, ids[0])["stored"][:2] == (1, 4)

    fixed = run_recount(app_env)
    assert "2 had drift, fixed" in fixed
    for restaurant_id in ids:
        counts = stored(settings, restaurant_id)
        assert counts["stored"] == counts["real"]
    assert "0 had drift" in run_recount(app_env, "--dry-run")
