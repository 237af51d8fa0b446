"""Keyset pagination: every order walks each restaurant exactly once, both ways; bad cursors are a 400."""

import base64
import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from restaurant_shared.settings import Settings
from restaurant_web.app import create_app
from tests.fixtures.stack import AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.web.test_restaurants import post_review

SORTS = ("newest", "rating", "reviews", "name")


@pytest.fixture
def client(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    """The app without a limit on review posts: these tests post dozens."""
    with Browser(create_app(app_env.settings(RATE_LIMIT_REVIEWS="")), base_url="http://testserver") as browser:
        yield browser


@pytest.fixture
def many(client: Browser, settings: Settings) -> list[int]:
    """23 restaurants with ties in every key: equal names, counts, ratings and creation times."""
    ids = [make_restaurant(client, f"Place {i % 4}")["id"] for i in range(23)]
    for position, restaurant_id in enumerate(ids[:12]):
        for _ in range(1 + position % 3):
            post_review(client, restaurant_id, 1 + position % 5)
    engine = create_engine(AppEnv.database_url(settings))
    with engine.begin() as conn:  # identical creation times for a third of them
        conn.execute(text("UPDATE restaurant SET created_at = '2026-01-01T00:00:00Z' WHERE id % 3 = 0"))
    engine.dispose()
    return ids


def walk(client: Browser, url: str, link: str = "next") -> list[list[int]]:
    pages = []
    while url:
        body = client.get(url).json()
        pages.append([item["id"] for item in body["items"]])
        url = body[link]
    return pages


@pytest.mark.parametrize("sort", SORTS)
def test_following_next_visits_every_restaurant_once_in_order(client: Browser, many: list[int], sort: str) -> None:
    pages = walk(client, f"/api/restaurants?sort={sort}&limit=5")
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    flat = [restaurant_id for page in pages for restaurant_id in page]
    everything = [item["id"] for item in client.get(f"/api/restaurants?sort={sort}&limit=100").json()["items"]]
    assert flat == everything
    assert sorted(flat) == sorted(many)


@pytest.mark.parametrize("sort", SORTS)
def test_following_prev_from_the_last_page_comes_back_the_same_way(client: Browser, many: list[int], sort: str) -> None:
    forwards = walk(client, f"/api/restaurants?sort={sort}&limit=5")
    url = f"/api/restaurants?sort={sort}&limit=5"
    for _ in range(len(forwards) - 1):
        url = client.get(url).json()["next"]
    last = client.get(url).json()
    assert last["next"] is None
    backwards = walk(client, last["prev"], link="prev")
    assert backwards == forwards[-2::-1]
    assert client.get(f"/api/restaurants?sort={sort}&limit=5").json()["prev"] is None


def test_search_pages_by_cursor_too(client: Browser, many: list[int]) -> None:
    pages = walk(client, "/api/restaurants?q=place 1&sort=name&limit=2")
    names = {item["name"] for item in client.get("/api/restaurants?q=place 1&limit=100").json()["items"]}
    assert names == {"Place 1"}
    assert sum(len(page) for page in pages) == 6
    assert client.get("/api/restaurants?q=nothing-like-it").json() == {
        "items": [],
        "limit": 20,
        "next": None,
        "prev": None,
    }


def test_next_is_an_absolute_url_that_keeps_the_query(client: Browser, many: list[int]) -> None:
    body = client.get("/api/restaurants?sort=rating&q=Place&limit=3").json()
    assert re.fullmatch(r"http://testserver/api/restaurants\?sort=rating&q=Place&limit=3&cursor=[\w-]+", body["next"])


def forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%00",
        forged({"v": 1, "o": "name", "k": ["a", 1], "b": False}),  # from another sort order
        forged({"v": 0, "o": "newest", "k": ["2026-01-01T00:00:00+00:00", 1], "b": False}),  # an older format
        forged({"v": 1, "o": "newest", "k": ["2026-01-01T00:00:00", 1], "b": False}),  # no time zone
        forged({"v": 1, "o": "newest", "k": ["yesterday", 1], "b": False}),
        forged({"v": 1, "o": "newest", "k": ["2026-01-01T00:00:00+00:00", 2**40], "b": False}),
        forged({"v": 1, "o": "newest", "k": ["2026-01-01T00:00:00+00:00", "1"], "b": False}),
        forged({"v": 1, "o": "newest", "k": ["2026-01-01T00:00:00+00:00"], "b": False}),
        forged({"v": 1, "o": "newest", "k": ["2026-01-01T00:00:00+00:00", 1], "b": "no"}),
        forged([1, 2, 3]),
        "x" * 2000,
    ],
)
def test_forged_or_stale_cursor_is_a_400_with_a_message(client: Browser, cursor: str) -> None:
    api = client.get("/api/restaurants", params={"cursor": cursor})
    assert api.status_code == 400
    assert "first page" in api.json()["detail"]
    page = client.get("/", params={"cursor": cursor})
    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"] and "first page" in page.text


def test_cursors_of_other_kinds_are_refused_where_they_do_not_belong(client: Browser) -> None:
    restaurant = make_restaurant(client)
    for i in range(3):
        post_review(client, restaurant["id"], 3, user_name=f"U{i}")
    reviews_next = client.get(f"/api/restaurants/{restaurant['id']}/reviews?limit=1").json()["next"]
    review_cursor = reviews_next.split("cursor=")[1]
    assert client.get(f"/api/restaurants?cursor={review_cursor}").status_code == 400
    list_cursor = forged({"v": 1, "o": "rating", "k": ["4.5", 3, 7], "b": False})
    assert client.get(f"/api/restaurants?sort=rating&cursor={list_cursor}").status_code == 200
    assert client.get(f"/api/restaurants/{restaurant['id']}/reviews?cursor={list_cursor}").status_code == 400
    assert client.get(f"/restaurants/{restaurant['id']}?cursor={list_cursor}").status_code == 400


def test_rating_cursor_outside_the_rating_scale_is_refused(client: Browser) -> None:
    cursor = forged({"v": 1, "o": "rating", "k": ["NaN", 3, 7], "b": False})
    assert client.get(f"/api/restaurants?sort=rating&cursor={cursor}").status_code == 400
    cursor = forged({"v": 1, "o": "rating", "k": ["9", 3, 7], "b": False})
    assert client.get(f"/api/restaurants?sort=rating&cursor={cursor}").status_code == 400


def test_old_offset_parameter_is_a_400_that_says_what_to_do(client: Browser) -> None:
    response = client.get("/api/restaurants?offset=20")
    assert response.status_code == 400
    assert "next" in response.json()["detail"]


def test_old_numbered_page_links_redirect_to_the_start_of_the_same_list(client: Browser) -> None:
    response = client.get("/?q=pizza&sort=name&page=3", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == "/?q=pizza&sort=name"


def test_list_page_links_next_and_prev_pages(client: Browser, many: list[int]) -> None:
    first = client.get("/?sort=name").text
    assert 'rel="prev"' not in first
    next_href = re.search(r'<a class="page-step" rel="next" href="([^"]+)"', first)
    assert next_href is not None
    second = client.get(next_href.group(1).replace("&amp;", "&")).text
    assert 'rel="prev"' in second and 'rel="next"' not in second  # 23 restaurants: the second page is the last
    assert "First page" in second
    names = re.findall(r'<h2><a href="/restaurants/(\d+)">', second)
    assert len(names) == 11
    api = client.get("/api/restaurants?sort=name&limit=12").json()["next"]
    assert [int(n) for n in names] == [item["id"] for item in client.get(api).json()["items"]]


def test_restaurant_page_and_api_paginate_reviews_newest_first(client: Browser) -> None:
    restaurant = make_restaurant(client)
    for i in range(25):
        post_review(client, restaurant["id"], 1 + i % 5, user_name=f"Reviewer {i:02d}")
    detail = client.get(f"/api/restaurants/{restaurant['id']}").json()
    assert detail["review_count"] == 25 and detail["avg_rating"] == 3.0
    assert [r["user_name"] for r in detail["reviews"]] == [f"Reviewer {i:02d}" for i in range(24, 4, -1)]
    rest = client.get(detail["reviews_next"]).json()
    assert [r["user_name"] for r in rest["items"]] == [f"Reviewer {i:02d}" for i in range(4, -1, -1)]
    assert rest["next"] is None
    assert client.get(rest["prev"]).json()["items"] == detail["reviews"]

    page = client.get(f"/restaurants/{restaurant['id']}").text
    assert page.count('class="review panel"') == 10
    assert "Reviewer 24" in page and "Reviewer 14" not in page
    older = re.search(r'rel="next" href="([^"#]+)', page)
    assert older is not None
    second = client.get(older.group(1)).text
    assert "Reviewer 14" in second and "Reviewer 24" not in second and 'rel="prev"' in second
    assert "(25 reviews)" in second


def test_reviews_of_unknown_restaurant_are_404(client: Browser) -> None:
    assert client.get("/api/restaurants/999999/reviews").status_code == 404
    restaurant = make_restaurant(client)
    assert client.get(f"/api/restaurants/{restaurant['id']}/reviews").json()["items"] == []
