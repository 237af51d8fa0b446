"""Reports and moderation through the app: who may do what, what hiding and deleting change, the audit."""

import re
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from restaurant_shared.aggregates import recount
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from restaurant_web.app import create_app
from tests.fixtures.stack import REPO_ROOT, AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.web.test_restaurants import post_review
from tests.worker import imagefactory

PRINCIPAL = "X-MS-CLIENT-PRINCIPAL"


def principal_header(name: str = "Mo Derator", role: str = "Moderator") -> str:
    """The header value the platform would send, made by the script that scripts/dev documents."""
    result = subprocess.run(
        [str(REPO_ROOT / "scripts/moderator-header"), name, role], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


MODERATOR = {PRINCIPAL: principal_header()}
READER = {PRINCIPAL: principal_header("Just Reading", "Reader")}


@pytest.fixture
def site(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    env = app_env.with_(AUTH_MODE="platform", RATE_LIMIT_REVIEWS="")
    with Browser(create_app(env.settings()), base_url="http://testserver") as browser:
        yield browser


@pytest.fixture
def site_without_moderation(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    with Browser(create_app(app_env.settings(RATE_LIMIT_REVIEWS="")), base_url="http://testserver") as browser:
        yield browser


def review_with_photo(site: Browser, restaurant_id: int, rating: int = 4, name: str = "Ann") -> dict:
    response = site.post(
        f"/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": name, "rating": str(rating), "review_text": f"text by {name}"},
        files=[("photos", ("a.jpg", imagefactory.jpeg(64, 48), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    return response.json()


def rows(settings: Settings, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(AppEnv.database_url(settings))
    with engine.connect() as conn:
        result = [tuple(row) for row in conn.execute(text(sql), params)]
    engine.dispose()
    return result


def no_drift(settings: Settings) -> bool:
    db = Database(settings)
    try:
        return recount(db, fix=False).restaurants_drifted == 0
    finally:
        db.dispose()


def test_reports_from_one_client_count_once_and_need_a_visible_target(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site)
    review = post_review(site, restaurant["id"], 2)
    for _ in range(2):
        response = site.post(f"/api/reviews/{review['id']}/reports", json={"reason": "spam", "note": "ads"})
        assert response.status_code == 202 and response.json() == {"received": True}
    assert rows(settings, "SELECT reason, note, status FROM report") == [("spam", "ads", "open")]
    assert site.post("/api/reviews/999999/reports", json={"reason": "spam"}).status_code == 404
    assert site.post(f"/api/reviews/{review['id']}/reports", json={"reason": "boring"}).status_code == 422
    assert (
        site.post(f"/api/reviews/{review['id']}/reports", json={"reason": "spam", "note": "x" * 501}).status_code == 422
    )


def test_reports_are_rate_limited_per_client(app_env: AppEnv, clean_state: None) -> None:
    env = app_env.with_(RATE_LIMIT_REVIEWS="", RATE_LIMIT_REPORTS="3/minute")
    with Browser(create_app(env.settings()), base_url="http://testserver") as site:
        restaurant = make_restaurant(site)
        reviews = [post_review(site, restaurant["id"], 3, user_name=f"U{i}") for i in range(4)]
        statuses = [site.post(f"/api/reviews/{r['id']}/reports", json={"reason": "other"}).status_code for r in reviews]
        limited = site.post(f"/reviews/{reviews[0]['id']}/reports", data={"reason": "spam"})
    assert statuses == [202, 202, 202, 429]
    assert limited.status_code == 429 and "sending reports too quickly" in limited.text


def test_report_form_needs_the_csrf_token_and_thanks_the_reporter(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site)
    review = review_with_photo(site, restaurant["id"])
    page = site.get(f"/restaurants/{restaurant['id']}").text
    link = f'href="/reviews/{review["id"]}/report?back=%2Frestaurants%2F{restaurant["id"]}"'
    assert link in page
    form = site.get(f"/reviews/{review['id']}/report?back=/restaurants/{restaurant['id']}").text
    assert f'action="/reviews/{review["id"]}/reports"' in form and "Photo 1" in form
    assert 'content="noindex, nofollow"' in form
    assert site.get("/reviews/999999/report").status_code == 404
    form = {"reason": "offensive", "note": "rude", "photo": review["photos"][0]["id"],
            "back": f"/restaurants/{restaurant['id']}"}  # fmt: skip
    assert site.post(f"/reviews/{review['id']}/reports", data=form).status_code == 403
    response = site.post(
        f"/reviews/{review['id']}/reports", data={**form, "csrf_token": site.csrf_token()}, follow_redirects=False
    )
    assert response.status_code == 303
    assert (
        response.headers["location"] == f"/restaurants/{restaurant['id']}?reported={review['id']}#review-{review['id']}"
    )
    assert "A moderator will look at it" in site.get(response.headers["location"]).text
    assert rows(settings, "SELECT photo_id::text, reason FROM report") == [(review["photos"][0]["id"], "offensive")]
    # Coming back elsewhere, or naming a photo of another review, is refused or ignored.
    other = post_review(site, restaurant["id"], 5, user_name="Bo")
    evil = {**form, "csrf_token": site.csrf_token(), "back": "https://evil.example/"}
    assert site.post(f"/reviews/{other['id']}/reports", data=evil).status_code == 422
    evil.pop("photo")
    moved = site.post(f"/reviews/{other['id']}/reports", data=evil, follow_redirects=False)
    assert moved.headers["location"].startswith(f"/restaurants/{restaurant['id']}?reported=")


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/api/reviews/1"),
        ("DELETE", "/api/photos/00000000-0000-4000-8000-000000000000"),
        ("DELETE", "/api/restaurants/1"),
        ("PUT", "/api/reviews/1/hidden"),
        ("DELETE", "/api/photos/00000000-0000-4000-8000-000000000000/hidden"),
    ],
)
def test_only_moderators_may_act(site: Browser, site_without_moderation: Browser, method: str, path: str) -> None:
    assert site.request(method, path).status_code == 401
    assert site.request(method, path, headers=READER).status_code == 403
    assert site.request(method, path, headers=MODERATOR).status_code == 404  # allowed; there is nothing there
    # With AUTH_MODE=none the header means nothing at all.
    assert site_without_moderation.request(method, path, headers=MODERATOR).status_code == 403


def test_moderation_pages_send_visitors_to_sign_in(site: Browser, site_without_moderation: Browser) -> None:
    response = site.get("/moderation", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/.auth/login/aad?post_login_redirect_uri=%2Fmoderation"
    assert site.get("/moderation", headers=READER).status_code == 403
    assert site.get("/moderation", headers=MODERATOR).status_code == 200
    assert site_without_moderation.get("/moderation", headers=MODERATOR).status_code == 404


def test_hidden_review_is_gone_from_pages_api_and_aggregates_at_once_and_comes_back(
    site: Browser, settings: Settings
) -> None:
    restaurant = make_restaurant(site, "Hide And Seek")
    kept = post_review(site, restaurant["id"], 2, user_name="Kept")
    hidden = review_with_photo(site, restaurant["id"], 5, name="Hidden")
    photo_id = hidden["photos"][0]["id"]
    assert (
        site.put(f"/api/reviews/{hidden['id']}/hidden", params={"reason": "spam"}, headers=MODERATOR).status_code == 204
    )

    detail = site.get(f"/api/restaurants/{restaurant['id']}").json()
    assert [r["id"] for r in detail["reviews"]] == [kept["id"]]
    assert (detail["review_count"], detail["avg_rating"]) == (1, 2.0)
    assert "text by Hidden" not in site.get(f"/restaurants/{restaurant['id']}").text
    assert site.get(f"/api/photos/{photo_id}").status_code == 404
    assert site.post(f"/api/reviews/{hidden['id']}/reports", json={"reason": "spam"}).status_code == 404
    listed = site.get("/api/restaurants").json()["items"][0]
    assert (listed["review_count"], listed["avg_rating"]) == (1, 2.0)
    assert no_drift(settings)
    hidden_page = site.get("/moderation/hidden", headers=MODERATOR).text
    assert "text by Hidden" in hidden_page

    assert site.delete(f"/api/reviews/{hidden['id']}/hidden", headers=MODERATOR).status_code == 204
    detail = site.get(f"/api/restaurants/{restaurant['id']}").json()
    assert (detail["review_count"], detail["avg_rating"]) == (2, 3.5)
    assert site.get(f"/api/photos/{photo_id}").status_code == 200
    assert no_drift(settings)


def test_hidden_photo_disappears_but_its_review_stays(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site)
    review = review_with_photo(site, restaurant["id"])
    photo_id = review["photos"][0]["id"]
    assert site.put(f"/api/photos/{photo_id}/hidden", headers=MODERATOR).status_code == 204
    detail = site.get(f"/api/restaurants/{restaurant['id']}").json()
    assert detail["reviews"][0]["photos"] == [] and detail["review_count"] == 1
    assert site.get(f"/api/photos/{photo_id}").status_code == 404
    assert photo_id not in site.get(f"/restaurants/{restaurant['id']}").text
    assert photo_id in site.get("/moderation/hidden", headers=MODERATOR).text


def test_deleting_a_review_removes_its_rows_records_erasure_and_recounts(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site)
    post_review(site, restaurant["id"], 3, user_name="Stays")
    doomed = review_with_photo(site, restaurant["id"], 1, name="Goes")
    site.post(f"/api/reviews/{doomed['id']}/reports", json={"reason": "offensive"})
    response = site.delete(f"/api/reviews/{doomed['id']}", params={"reason": "abusive"}, headers=MODERATOR)
    assert response.status_code == 204
    assert rows(settings, "SELECT count(*) FROM review WHERE id = :id", id=doomed["id"]) == [(0,)]
    assert rows(settings, "SELECT count(*) FROM photo") == [(0,)]
    assert rows(settings, "SELECT count(*) FROM report") == [(0,)]
    assert rows(settings, "SELECT photo_id::text FROM photo_erasure") == [(doomed["photos"][0]["id"],)]
    detail = site.get(f"/api/restaurants/{restaurant['id']}").json()
    assert (detail["review_count"], detail["avg_rating"]) == (1, 3.0)
    assert no_drift(settings)
    assert site.delete(f"/api/reviews/{doomed['id']}", headers=MODERATOR).status_code == 404


def test_deleting_a_restaurant_takes_everything_with_it(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site, "Closing Down")
    photos = [review_with_photo(site, restaurant["id"], name=f"P{i}")["photos"][0]["id"] for i in range(3)]
    assert site.delete(f"/api/restaurants/{restaurant['id']}", headers=MODERATOR).status_code == 204
    assert site.get(f"/api/restaurants/{restaurant['id']}").status_code == 404
    assert rows(settings, "SELECT count(*) FROM review") == [(0,)]
    assert sorted(r[0] for r in rows(settings, "SELECT photo_id::text FROM photo_erasure")) == sorted(photos)
    assert rows(settings, "SELECT target_summary FROM moderation_action") == [
        ("restaurant “Closing Down” with 3 reviews",)
    ]


def test_every_action_is_audited_and_shown_without_the_users_text(site: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(site, "Audited")
    review = post_review(site, restaurant["id"], 2, user_name="Secret Name", text="secret text")
    site.post(f"/api/reviews/{review['id']}/reports", json={"reason": "spam"})
    token = site.csrf_token()
    for action in ("dismiss", "hide", "restore"):
        response = site.post(
            "/moderation/actions",
            data={
                "csrf_token": token,
                "action": action,
                "target_type": "review",
                "target_id": str(review["id"]),
                "reason": f"because {action}",
                "back": "/moderation",
            },
            headers=MODERATOR,
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == f"/moderation?done={action}"
    assert rows(settings, "SELECT status FROM report") == [("dismissed",)]
    audit = rows(settings, "SELECT moderator_name, action, target_type, reason FROM moderation_action ORDER BY id")
    assert audit == [
        ("Mo Derator", "dismiss_reports", "review", "because dismiss"),
        ("Mo Derator", "hide", "review", "because hide"),
        ("Mo Derator", "restore", "review", "because restore"),
    ]
    page = site.get("/moderation/audit", headers=MODERATOR).text
    assert page.count("Mo Derator") >= 3 and "because hide" in page
    assert "secret text" not in page and "Secret Name" not in page


def test_queue_shows_open_reports_with_their_content_newest_first(site: Browser) -> None:
    restaurant = make_restaurant(site, "Queue Place")
    first = post_review(site, restaurant["id"], 1, user_name="Early", text="first words")
    second = review_with_photo(site, restaurant["id"], name="Late")
    site.post(f"/api/reviews/{first['id']}/reports", json={"reason": "off_topic", "note": "about a car"})
    site.post(f"/api/photos/{second['photos'][0]['id']}/reports", json={"reason": "private_information"})
    page = site.get("/moderation", headers=MODERATOR).text
    assert page.index("Shows private information") < page.index("Not about this restaurant")
    assert "first words" in page and "about a car" in page and "Queue Place" in page
    assert re.search(rf'name="target_id" value="{second["photos"][0]["id"]}"', page)


def test_moderator_form_without_csrf_token_is_refused(site: Browser) -> None:
    restaurant = make_restaurant(site)
    review = post_review(site, restaurant["id"], 2)
    response = site.post(
        "/moderation/actions",
        data={"action": "hide", "target_type": "review", "target_id": str(review["id"])},
        headers=MODERATOR,
    )
    assert response.status_code == 403
    assert site.get(f"/api/restaurants/{restaurant['id']}").json()["review_count"] == 1
