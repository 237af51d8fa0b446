"""Review posting is rate-limited per client address, before the body is read: 429, Retry-After, a message."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from restaurant_web.app import create_app
from tests.fixtures.processes import WebProcess
from tests.fixtures.services import RedisServer, free_port
from tests.fixtures.stack import AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.worker import imagefactory

LIMIT = "3/minute"


@pytest.fixture
def limited(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    with Browser(create_app(app_env.settings(rate_limit_reviews=LIMIT)), base_url="http://testserver") as browser:
        yield browser


def post(client: httpx.Client | Browser, restaurant_id: int, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "Quick", "rating": "5"},
        files=[("photos", ("a.jpg", imagefactory.jpeg(64, 48), "image/jpeg"))],
        headers=headers,
    )


def test_fourth_review_in_a_minute_is_429_with_retry_after_as_json_page_and_form_json(limited: Browser) -> None:
    restaurant_id = make_restaurant(limited)["id"]
    assert [post(limited, restaurant_id).status_code for _ in range(3)] == [201, 201, 201]

    api = post(limited, restaurant_id)
    assert api.status_code == 429
    assert 1 <= int(api.headers["retry-after"]) <= 60
    assert "too quickly" in api.json()["detail"] and "Nothing was saved" in api.json()["detail"]
    assert api.headers["content-security-policy"]  # the security headers wrap refusals too

    form = {"csrf_token": limited.csrf_token(), "user_name": "Quick", "rating": "5"}
    page = limited.post(f"/restaurants/{restaurant_id}/reviews", data=form)
    assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
    assert "too quickly" in page.text and page.headers["retry-after"]
    script = limited.post(f"/restaurants/{restaurant_id}/reviews", data=form, headers={"Accept": "application/json"})
    assert script.status_code == 429 and "too quickly" in script.json()["errors"]["__all__"]

    assert limited.get(f"/api/restaurants/{restaurant_id}").json()["review_count"] == 3
    assert limited.get(f"/restaurants/{restaurant_id}").status_code == 200  # reading is never limited
    assert limited.post("/api/restaurants", json={"name": "Still fine"}).status_code == 201


@pytest.mark.parametrize("trusted", ["127.0.0.1,::1", "10.0.0.0/8"])
def test_limit_is_per_client_address_and_a_forged_forwarded_for_does_not_escape_it(
    app_env: AppEnv, log_dir: Path, clean_state: None, trusted: str
) -> None:
    """Through gunicorn's own proxy handling. With "127.0.0.1" trusted, this test plays the proxy: the
    client is the rightmost untrusted X-Forwarded-For entry, and what a client wrote before it does not
    count. With only "10.0.0.0/8" trusted, the test is an ordinary client whose header is ignored."""
    extra = {"RATE_LIMIT_REVIEWS": LIMIT, "FORWARDED_ALLOW_IPS": trusted}
    web = WebProcess(app_env, log_dir, workers=1, extra_env=extra).start()
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            restaurant_id = client.post("/api/restaurants", json={"name": "Proxied"}).json()["id"]
            behind_proxy = [
                post(client, restaurant_id, **{"X-Forwarded-For": f"{forged}, 198.51.100.7"}).status_code
                for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4")
            ]
            other_client = post(client, restaurant_id, **{"X-Forwarded-For": "198.51.100.8"}).status_code
    finally:
        web.stop()
    assert behind_proxy == [201, 201, 201, 429]
    assert other_client == (201 if trusted.startswith("127.") else 429)


def test_redis_storage_shares_the_limit_between_web_processes(
    app_env: AppEnv, log_dir: Path, redis_server: RedisServer | None, clean_state: None
) -> None:
    if redis_server is None:
        pytest.skip("needs the Redis started by the test session")
    storage = redis_server.url.rsplit("/", 1)[0] + "/3"
    web = WebProcess(
        app_env, log_dir, workers=2, extra_env={"RATE_LIMIT_REVIEWS": "5/minute", "RATE_LIMIT_STORAGE_URL": storage}
    ).start()
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            restaurant_id = client.post("/api/restaurants", json={"name": "Shared"}).json()["id"]
            statuses = []
            for _ in range(8):  # a new connection each time, so both gunicorn workers answer
                with httpx.Client(base_url=web.url, timeout=30) as fresh:
                    statuses.append(post(fresh, restaurant_id).status_code)
    finally:
        web.stop()
    assert statuses == [201] * 5 + [429] * 3


def test_unreachable_rate_limit_storage_lets_reviews_through(app_env: AppEnv, clean_state: None) -> None:
    settings = app_env.settings(
        rate_limit_reviews="1/minute", rate_limit_storage_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    with Browser(create_app(settings), base_url="http://testserver") as client:
        restaurant_id = make_restaurant(client)["id"]
        assert [post(client, restaurant_id).status_code for _ in range(3)] == [201, 201, 201]


def test_a_bad_rate_limit_stops_the_app_at_start_up(app_env: AppEnv) -> None:
    from restaurant_shared.settings import ConfigurationError

    with pytest.raises(ConfigurationError, match="RATE_LIMIT_REVIEWS"):
        create_app(app_env.settings(rate_limit_reviews="lots"))
