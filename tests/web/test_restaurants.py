"""Restaurants: the list page and API with rating aggregates, the add form, details and 404s."""

import re

import pytest
from sqlalchemy import event

from tests.web.conftest import Browser, make_restaurant


def post_review(client: Browser, restaurant_id: int, rating: int, user_name: str = "Ann", text: str = "") -> dict:
    response = client.post(
        f"/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": user_name, "rating": str(rating), "review_text": text},
        files=[],
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_api_creates_restaurant_with_201(client: Browser) -> None:
    body = make_restaurant(client, "Noodle Bar", street_address="1 Main St", description="Hand-pulled")
    assert body["name"] == "Noodle Bar"
    assert body["street_address"] == "1 Main St"
    assert isinstance(body["id"], int)
    assert client.get(f"/api/restaurants/{body['id']}").json()["name"] == "Noodle Bar"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "street_address": "x" * 201}, "street_address"),
        ({"name": "ok", "description": "x" * 1001}, "description"),
        ({"name": "nul\x00byte"}, "name"),
        ({}, "name"),
    ],
)
def test_api_rejects_invalid_restaurant_with_422_and_writes_nothing(client: Browser, payload: dict, field: str) -> None:
    response = client.post("/api/restaurants", json=payload)
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"])
    assert client.get("/api/restaurants").json()["items"] == []


def test_list_shows_average_rating_and_review_count(client: Browser) -> None:
    rated = make_restaurant(client, "Rated")
    make_restaurant(client, "Unrated")
    for rating in (5, 4, 4):
        post_review(client, rated["id"], rating)
    body = client.get("/api/restaurants").json()
    assert len(body["items"]) == 2
    by_name = {item["name"]: item for item in body["items"]}
    assert by_name["Rated"]["avg_rating"] == 4.3
    assert by_name["Rated"]["review_count"] == 3
    assert by_name["Unrated"]["avg_rating"] is None
    assert by_name["Unrated"]["review_count"] == 0

    page = client.get("/").text
    assert "Rated 4.3 out of 5" in page
    assert "(3 reviews)" in page
    assert "No ratings yet" in page


def test_list_sorts_by_each_order(client: Browser) -> None:
    ids = [make_restaurant(client, f"R{i:02d}")["id"] for i in range(5)]
    post_review(client, ids[2], 5)
    post_review(client, ids[4], 2)
    post_review(client, ids[4], 2)

    def order(sort: str) -> list[int]:
        return [item["id"] for item in client.get(f"/api/restaurants?sort={sort}").json()["items"]]

    assert order("newest") == ids[::-1]
    assert order("rating") == [ids[2], ids[4], ids[3], ids[1], ids[0]]  # unrated last, newest first among them
    assert order("reviews") == [ids[4], ids[2], ids[3], ids[1], ids[0]]
    assert order("name") == ids
    assert client.get("/api/restaurants?q=R03").json()["items"][0]["id"] == ids[3]
    assert client.get("/api/restaurants?limit=0").status_code == 422


def test_list_page_is_one_statement_whatever_the_data(client: Browser) -> None:
    engine = client.app.state.services.db.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def queries_for_list_page() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    make_restaurant(client, "One")
    with_one = queries_for_list_page()
    for i in range(10):
        restaurant = make_restaurant(client, f"More {i}")
        post_review(client, restaurant["id"], 3)
    assert queries_for_list_page() == with_one == 1


def test_html_form_adds_restaurant_and_redirects(client: Browser) -> None:
    token = client.csrf_token()
    response = client.post(
        "/restaurants",
        data={"name": "Form Café", "street_address": "2 Side St", "description": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/restaurants/\d+", location)
    page = client.get(location)
    assert page.status_code == 200
    assert "Form Café" in page.text and "2 Side St" in page.text


def test_html_form_shows_field_errors_and_keeps_values(client: Browser) -> None:
    token = client.csrf_token()
    response = client.post("/restaurants", data={"name": "", "street_address": "kept address", "csrf_token": token})
    assert response.status_code == 422
    assert 'id="name-error"' in response.text
    assert 'value="kept address"' in response.text
    assert client.get("/api/restaurants").json()["items"] == []


def test_details_show_reviews_newest_first(client: Browser) -> None:
    restaurant = make_restaurant(client)
    post_review(client, restaurant["id"], 2, user_name="First")
    post_review(client, restaurant["id"], 5, user_name="Second")
    body = client.get(f"/api/restaurants/{restaurant['id']}").json()
    assert [review["user_name"] for review in body["reviews"]] == ["Second", "First"]
    assert body["avg_rating"] == 3.5 and body["review_count"] == 2
    page = client.get(f"/restaurants/{restaurant['id']}").text
    assert page.index("Second") < page.index("First")


def test_unknown_restaurant_is_404_page_and_json(client: Browser) -> None:
    page = client.get("/restaurants/999999")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "Not found" in page.text
    api = client.get("/api/restaurants/999999")
    assert api.status_code == 404
    assert api.json() == {"detail": "Restaurant not found"}
    assert (
        client.post("/api/restaurants/999999/reviews", data={"user_name": "a", "rating": "3"}, files=[]).status_code
        == 404
    )


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"user_name": "Ann", "rating": "0"}, "rating"),
        ({"user_name": "Ann", "rating": "6"}, "rating"),
        ({"user_name": "Ann", "rating": "5; DROP TABLE review"}, "rating"),
        ({"user_name": "", "rating": "3"}, "user_name"),
        ({"user_name": "x" * 51, "rating": "3"}, "user_name"),
        ({"user_name": "Ann", "rating": "3", "review_text": "x" * 2001}, "review_text"),
    ],
)
def test_api_rejects_invalid_review_with_422_and_writes_nothing(client: Browser, fields: dict, bad: str) -> None:
    restaurant = make_restaurant(client)
    response = client.post(f"/api/restaurants/{restaurant['id']}/reviews", data=fields, files=[])
    assert response.status_code == 422
    assert [error["loc"][-1] for error in response.json()["detail"]] == [bad]
    assert client.get(f"/api/restaurants/{restaurant['id']}").json()["review_count"] == 0


def test_review_text_at_the_limit_is_accepted(client: Browser) -> None:
    restaurant = make_restaurant(client)
    review = post_review(client, restaurant["id"], 4, text="é" * 2000)
    assert len(review["review_text"]) == 2000
