"""Every page, on a phone and on a desktop: accessible (axe-core), no sideways scrolling, shareable list URLs."""

import re
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Site, Watch, open_page
from tests.browser.helpers import PHOTOS, assert_no_horizontal_overflow, serious_accessibility_violations
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos

pytestmark = pytest.mark.browser

LONG_WORD = "Ristorante" + "x" * 60  # one unbreakable word, wider than a phone


@pytest.fixture(scope="module")
def reviewed_restaurant(site: Site) -> str:
    """A restaurant page with a long name, a long review and two ready photos."""
    restaurant_id = create_restaurant(site.url, f"{LONG_WORD} {uuid4().hex[:4]}")
    photo_ids = post_review(site.url, restaurant_id, [(path.name, path.read_bytes()) for path in PHOTOS], rating=4)
    httpx.post(
        f"{site.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "Ana", "rating": "3", "review_text": "Fine. " + "y" * 300},
        timeout=10,
    ).raise_for_status()
    wait_for_photos(site.url, photo_ids)
    return f"/restaurants/{restaurant_id}"


@pytest.fixture(params=["phone", "desktop"])
def any_page(request: pytest.FixtureRequest, browser: Browser, site: Site, watch: Watch) -> Iterator[Page]:
    context, page = open_page(browser, site, watch, PHONE if request.param == "phone" else DESKTOP)
    yield page
    context.close()


def test_list_restaurant_and_new_pages_have_no_serious_accessibility_violations(
    any_page: Page, reviewed_restaurant: str
) -> None:
    for url in ("/", reviewed_restaurant, "/restaurants/new"):
        any_page.goto(url)
        any_page.wait_for_function("() => [...document.images].every(i => i.complete)")
        assert serious_accessibility_violations(any_page) == [], url


def test_forms_with_errors_have_no_serious_accessibility_violations(phone: Page, watch: Watch) -> None:
    watch.allow_console_error(r"status of 422")
    phone.goto("/restaurants/new")
    phone.get_by_role("button", name="Add restaurant").click()
    expect(phone.locator("#name-error")).to_be_visible()
    assert serious_accessibility_violations(phone) == []


def test_nothing_overflows_sideways_on_a_375_px_phone(phone: Page, watch: Watch, reviewed_restaurant: str) -> None:
    watch.allow_console_error(r"status of 404")  # the not-found page is one of the pages checked
    for url in ("/", f"/?q={LONG_WORD}", "/?q=no-such-place-anywhere", reviewed_restaurant, "/restaurants/new", "/x"):
        phone.goto(url)
        assert_no_horizontal_overflow(phone)
    phone.goto(reviewed_restaurant)
    phone.locator(".photo-link").first.click()
    expect(phone.locator("dialog#lightbox")).to_be_visible()
    assert_no_horizontal_overflow(phone)


def test_search_sort_and_pages_make_shareable_urls(phone: Page, site: Site) -> None:
    page = phone
    prefix = f"Noodle {uuid4().hex[:6]}"
    for number in range(1, 14):
        create_restaurant(site.url, f"{prefix} {number:02d}")
    page.goto("/")
    page.get_by_label("Search by name").fill(prefix)
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/\?q=Noodle\+\w+&sort=name$"))
    expect(page.get_by_text(f"Names containing “{prefix}”")).to_be_visible()
    cards = page.locator(".card h2")
    expect(cards).to_have_count(12)
    expect(cards.first).to_have_text(f"{prefix} 01")
    expect(page.get_by_role("link", name="Previous")).to_have_count(0)

    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"/\?q=Noodle\+\w+&sort=name&cursor=[\w-]+$"))
    expect(cards).to_have_text([f"{prefix} 13"])
    expect(page.get_by_role("link", name="Next")).to_have_count(0)
    expect(page.get_by_label("Search by name")).to_have_value(prefix)
    expect(page.get_by_label("Sort by")).to_have_value("name")

    # The same address opened elsewhere shows the same page.
    shared = page.url
    page.goto("/")
    page.goto(shared)
    expect(cards).to_have_text([f"{prefix} 13"])
    page.get_by_role("link", name="Previous").click()
    expect(cards).to_have_count(12)
    expect(cards.first).to_have_text(f"{prefix} 01")

    page.get_by_label("Search by name").fill("no such restaurant anywhere")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="No restaurant matches “no such restaurant anywhere”")).to_be_visible()
    expect(page.get_by_role("link", name="Add a restaurant").last).to_be_visible()
