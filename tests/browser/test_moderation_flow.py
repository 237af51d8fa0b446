"""Taking content down, as people do it: a visitor reports a review, a moderator deletes it, it is gone."""

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, Site, Watch, open_page
from tests.browser.helpers import PHOTOS, serious_accessibility_violations
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.web.test_moderation import MODERATOR

pytestmark = pytest.mark.browser


def test_report_then_moderate_then_gone(phone: Page, browser: Browser, site: Site, watch: Watch) -> None:
    restaurant_id = create_restaurant(site.url, "Casa Moderada")
    fair = {"user_name": "Fair", "rating": "4", "review_text": "Good paella."}
    httpx.post(f"{site.url}/api/restaurants/{restaurant_id}/reviews", data=fair, timeout=10).raise_for_status()
    [photo_id] = post_review(site.url, restaurant_id, [("spam.jpg", PHOTOS[0].read_bytes())], rating=1)
    wait_for_photos(site.url, [photo_id])

    # The visitor reports the review (the one with the photo: "end to end" is its text).
    page = phone
    page.goto(f"/restaurants/{restaurant_id}")
    review = page.locator("article.review", has_text="end to end")
    review.get_by_role("link", name="Report this review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Report a review")
    page.get_by_label("What is wrong").select_option(label="The review itself")
    page.get_by_label("Why").select_option(label="Spam or advertising")
    page.get_by_label("Details").fill("Advertises another place")
    assert serious_accessibility_violations(page) == []
    page.get_by_role("button", name="Send report").click()
    expect(page.get_by_role("status").filter(has_text="A moderator will look at it")).to_be_visible()
    assert re.search(r"\?reported=\d+#review-\d+$", page.url)

    # The moderator, signed in through the platform, sees the report with the content and deletes it.
    context, moderator = open_page(browser, site, watch, {**DESKTOP, "extra_http_headers": MODERATOR})
    try:
        moderator.goto("/moderation")
        item = moderator.locator("article.moderation-item", has_text="Advertises another place")
        expect(item).to_contain_text("Spam or advertising")
        expect(item).to_contain_text("end to end")
        expect(item.locator("img.moderation-photo")).to_have_count(1)
        assert serious_accessibility_violations(moderator) == []
        item.get_by_role("textbox", name=re.compile("^Reason")).fill("Advertising")
        item.get_by_role("button", name="Delete review").click()
        expect(moderator.get_by_role("status")).to_have_text("Done: delete.")
        expect(moderator.locator("article.moderation-item", has_text="Advertises another place")).to_have_count(0)

        moderator.get_by_role("link", name="Audit log").click()
        row = moderator.locator("table.audit tr", has_text="Casa Moderada")
        expect(row).to_contain_text("Mo Derator")
        expect(row).to_contain_text("Advertising")
        assert serious_accessibility_violations(moderator) == []
    finally:
        context.close()

    # Gone for everyone at once: the page, the aggregates, the photo.
    page.goto(f"/restaurants/{restaurant_id}")
    expect(page.locator("article.review")).to_have_count(1)
    expect(page.locator("article.review")).to_contain_text("Good paella.")
    expect(page.locator(".rating-large")).to_contain_text("(1 review)")
    assert httpx.get(f"{site.url}/api/photos/{photo_id}", timeout=10).status_code == 404
    assert httpx.get(f"{site.url}/photos/{photo_id}/320", timeout=10).status_code == 404
