"""Browser-facing protections: security headers on every response, no inline script anywhere (so the CSP can
forbid it), CSRF tokens in every HTML form, same-origin API writes, and read-only, short-lived SAS URLs.

API writes are open to programs (no Origin header, no cookies needed) and to pages of this site; a browser on
another site is refused (Origin or Sec-Fetch-Site says cross-site). CSRF tokens protect the HTML forms.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from restaurant_web.app import create_app
from restaurant_worker.processing import process_photo
from tests.fixtures.processes import WebProcess
from tests.fixtures.stack import AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.worker import imagefactory

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def site(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    with Browser(create_app(app_env.settings(rate_limit_reviews="")), base_url="http://testserver") as browser:
        yield browser


@pytest.fixture
def sas_site(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    settings = app_env.settings(photo_delivery="sas", photo_sas_ttl_seconds="300")
    with Browser(create_app(settings), base_url="http://testserver") as browser:
        yield browser


def post_review(client: Browser, restaurant_id: int, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "Ann", "rating": "4", "review_text": "<script>alert(1)</script>"},
        files=[("photos", ("a.jpg", imagefactory.jpeg(200, 150), "image/jpeg"))],
        headers=headers,
    )


def make_ready(settings: Settings, store: BlobStore, photo_id: str) -> None:
    db = Database(settings)
    try:
        assert process_photo(db, store, settings, uuid.UUID(photo_id)).status == "ready"
    finally:
        db.dispose()


class PageAudit(HTMLParser):
    """Collects what a strict CSP would block, and the POST forms with their hidden fields."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.inline_handlers: list[str] = []
        self.inline_styles: list[str] = []
        self.post_forms: list[dict[str, str]] = []
        self._form: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # A JSON-LD block is data: browsers never run a script element of a non-JavaScript type.
        if tag == "script" and not values.get("src") and values.get("type") != "application/ld+json":
            self.inline_scripts.append(self.getpos().__str__())
        if tag == "style":
            self.inline_styles.append(f"<style> at {self.getpos()}")
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.inline_handlers.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.inline_styles.append(f"<{tag} style={value!r}>")
        if tag == "form" and (values.get("method") or "get").lower() == "post":
            self._form = {"action": values.get("action") or ""}
            self.post_forms.append(self._form)
        if tag == "input" and self._form is not None and values.get("name"):
            self._form[values["name"] or ""] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'"], csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_every_kind_of_response_carries_the_security_headers(site: Browser) -> None:
    restaurant = make_restaurant(site)
    responses = {
        path: site.get(path)
        for path in (
            "/",
            "/restaurants/new",
            f"/restaurants/{restaurant['id']}",
            "/restaurants/999999",
            "/api/restaurants",
            "/api/restaurants/999999",
            "/static/app.js",
            "/docs",
            "/docs/start.js",
            "/openapi.json",
            "/healthz",
        )
    }
    responses["POST /api/restaurants 422"] = site.post("/api/restaurants", json={})
    responses["POST form without token 403"] = site.post("/restaurants", data={"name": "x"})
    for name, response in responses.items():
        assert response.status_code < 500, name
        assert_security_headers(response)


def test_pages_have_no_inline_script_or_style_and_every_post_form_carries_the_csrf_token(
    site: Browser, settings: Settings, blob_store: BlobStore
) -> None:
    restaurant = make_restaurant(site, "<b>Bold</b>", description="\"quoted\" & 'single'")
    ready, _pending = (post_review(site, restaurant["id"]).json()["photos"][0]["id"] for _ in range(2))
    make_ready(settings, blob_store, ready)
    token = site.csrf_token()
    invalid = site.post(f"/restaurants/{restaurant['id']}/reviews", data={"csrf_token": token, "rating": "9"})
    assert invalid.status_code == 422
    pages = {
        "index": site.get("/"),
        "new": site.get("/restaurants/new"),
        "details with ready and pending photos": site.get(f"/restaurants/{restaurant['id']}"),
        "details with form errors": invalid,
        "404": site.get("/restaurants/999999"),
        "docs": site.get("/docs"),
    }
    for name, page in pages.items():
        found = audit(page.text)
        assert found.inline_scripts == [], name
        assert found.inline_handlers == [], name
        assert found.inline_styles == [], name  # style-src 'self' would block them
        for form in found.post_forms:
            assert form.get("csrf_token") == token, (name, form)
    assert audit(pages["new"].text).post_forms and audit(pages["details with form errors"].text).post_forms
    assert "<script>alert(1)</script>" not in pages["details with ready and pending photos"].text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "http://testserver.evil.example"},
    ],
    ids=["other origin", "opaque origin", "sec-fetch-site cross-site", "look-alike origin"],
)
def test_api_writes_from_other_sites_are_403_and_write_nothing(
    site: Browser, blob_store: BlobStore, headers: dict[str, str]
) -> None:
    restaurant = make_restaurant(site)
    created = site.post("/api/restaurants", json={"name": "Cross"}, headers=headers)
    assert created.status_code == 403 and "not allowed" in created.json()["detail"]
    review = post_review(site, restaurant["id"], **headers)
    assert review.status_code == 403
    assert len(site.get("/api/restaurants").json()["items"]) == 1
    assert site.get(f"/api/restaurants/{restaurant['id']}").json()["review_count"] == 0
    assert list(blob_store.list_raw()) == []


def test_api_writes_from_this_site_and_from_programs_are_accepted(site: Browser) -> None:
    restaurant = make_restaurant(site)  # a program: no Origin, no cookie
    same_site = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert site.post("/api/restaurants", json={"name": "Same"}, headers=same_site).status_code == 201
    assert post_review(site, restaurant["id"], **same_site).status_code == 201


def test_sas_urls_are_read_only_for_one_blob_and_expire_in_minutes(
    sas_site: Browser, settings: Settings, blob_store: BlobStore
) -> None:
    restaurant = make_restaurant(sas_site)
    photo_id = post_review(sas_site, restaurant["id"]).json()["photos"][0]["id"]
    make_ready(settings, blob_store, photo_id)
    redirect = sas_site.get(f"/photos/{photo_id}/320", follow_redirects=False)
    assert redirect.status_code == 307
    url = redirect.headers["location"]
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["sp"] == "r" and query["sr"] == "b"  # read, one blob
    expiry = datetime.fromisoformat(query["se"].replace("Z", "+00:00"))
    assert 0 < (expiry - datetime.now(UTC)).total_seconds() <= 300 + 5
    assert urlsplit(url).path.endswith(f"/{blob_store.thumbnails}/{photo_id}/320.webp")

    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/webp"
    assert fetched.headers["content-disposition"] == "inline"
    sas = urlsplit(url).query
    base = url.split("?")[0]
    assert httpx.put(url, content=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10).status_code == 403
    assert httpx.delete(url, timeout=10).status_code == 403
    assert httpx.get(base.replace("/320.webp", "/1280.webp") + "?" + sas, timeout=10).status_code == 403
    container = base.rsplit("/", 2)[0]
    assert httpx.get(f"{container}?restype=container&comp=list&{sas}", timeout=10).status_code == 403
    raw = f"{container.rsplit('/', 1)[0]}/{blob_store.uploads}/{photo_id}?{sas}"
    assert httpx.get(raw, timeout=10).status_code == 403  # never the original


def test_swagger_ui_renders_offline_under_the_site_csp(web: WebProcess) -> None:
    page = httpx.get(f"{web.url}/docs", timeout=10)
    assert page.status_code == 200
    assert_security_headers(page)
    assert "cdn" not in page.text.lower()
    for path in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/start.js"):
        assert httpx.get(web.url + path, timeout=10).status_code == 200, path
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed; the static checks above still ran")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"])
        try:
            tab = browser.new_page()
            problems: list[str] = []
            tab.on("console", lambda message: message.type == "error" and problems.append(message.text))
            tab.on("pageerror", lambda error: problems.append(str(error)))
            outside: list[str] = []
            tab.on("request", lambda request: request.url.startswith(web.url) or outside.append(request.url))
            tab.goto(f"{web.url}/docs")
            tab.wait_for_selector(".opblock", timeout=15_000)
            operations = tab.locator(".opblock").count()
        finally:
            browser.close()
    assert operations >= 6
    assert problems == [], problems  # CSP violations are console errors
    assert [url for url in outside if not url.startswith("data:")] == []
