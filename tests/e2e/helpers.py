import time
from collections.abc import Iterable

import httpx


def create_restaurant(base_url: str, name: str = "E2E Bistro") -> int:
    response = httpx.post(f"{base_url}/api/restaurants", json={"name": name}, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def post_review(base_url: str, restaurant_id: int, photos: Iterable[tuple[str, bytes]], rating: int = 5) -> list[str]:
    response = httpx.post(
        f"{base_url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "E2E", "rating": str(rating), "review_text": "end to end"},
        files=[("photos", (name, data, "application/octet-stream")) for name, data in photos],
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return [photo["id"] for photo in response.json()["photos"]]


def wait_for_photos(base_url: str, photo_ids: Iterable[str], timeout: float = 60) -> dict[str, dict]:
    """Poll the status endpoint like the page does, until every photo is ready or failed."""
    pending = set(photo_ids)
    finished: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for photo_id in list(pending):
            body = httpx.get(f"{base_url}/api/photos/{photo_id}", timeout=10).json()
            if body["status"] in ("ready", "failed"):
                finished[photo_id] = body
                pending.discard(photo_id)
        if pending:
            time.sleep(0.2)
    assert not pending, f"photos still unfinished after {timeout} s: {sorted(pending)}"
    return finished
