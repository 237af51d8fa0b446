"""The review form on a phone when something is wrong: messages in place, nothing typed or chosen is lost."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, Watch
from tests.browser.helpers import PHOTOS, upload
from tests.e2e.helpers import create_restaurant

pytestmark = pytest.mark.browser

NOT_A_PHOTO = {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"my notes, not a photo at all"}


def test_errors_keep_typed_text_and_chosen_photos(phone: Page, site: Site, watch: Watch) -> None:
    page = phone
    restaurant_url = f"/restaurants/{create_restaurant(site.url, 'Ramen Corner')}"
    page.goto(restaurant_url)
    name = page.get_by_label("Your name")
    text = page.get_by_role("textbox", name="Your review")
    photos = page.locator("input#photos")
    name.fill("Sam")
    text.fill("Rich broth, springy noodles.\nSlow service at lunch.")
    photos.set_input_files([upload(PHOTOS[0]), NOT_A_PHOTO])
    expect(page.locator(".preview")).to_have_count(2)

    # No rating: said before anything is sent, next to the stars, and focus goes there.
    page.get_by_role("button", name="Post review").click()
    expect(page.locator("#rating-error")).to_have_text("Choose a rating from 1 to 5 stars.")
    expect(page.locator("fieldset.rating-input")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#rating-1")).to_be_focused()
    page.locator('label[for="rating-4"]').click()

    # The server refuses the file that is not a photo: the message names it, in place, without a reload.
    watch.allow_console_error(r"status of 415")
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Post review").click()
    expect(page.locator("#photos-error")).to_contain_text("notes.jpg")
    expect(page.locator("#rating-error")).to_have_count(0)
    expect(photos).to_have_attribute("aria-describedby", "photos-hint photos-error")
    expect(name).to_have_value("Sam")
    expect(text).to_have_value("Rich broth, springy noodles.\nSlow service at lunch.")
    expect(page.locator("#rating-4")).to_be_checked()
    assert page.evaluate("document.getElementById('photos').files.length") == 2
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("button", name="Post review")).to_be_enabled()

    # Remove the culprit and send again: the review is posted with the real photo.
    page.get_by_role("button", name="Remove notes.jpg").click()
    expect(page.locator(".preview")).to_have_count(1)
    page.get_by_role("button", name="Post review").click()
    review = page.locator("article.review.is-new")
    expect(review).to_be_visible()
    expect(review.get_by_role("heading", name="Sam")).to_be_visible()
    expect(review.locator(".photo")).to_have_count(1)
    assert re.search(r"#review-\d+$", page.url)


def test_too_large_photo_is_refused_before_sending_with_a_clear_message(phone: Page, site: Site) -> None:
    page = phone
    page.goto(f"/restaurants/{create_restaurant(site.url, 'Big Photo Diner')}")
    huge = {"name": "huge-photo.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8\xff" + bytes(2_600_000)}
    page.locator("input#photos").set_input_files([huge, upload(PHOTOS[1])])
    error = page.locator("#photos-error")
    expect(error).to_have_text(
        "“huge-photo.jpg” is 2.5 MB, over the 2 MB limit for each photo, so it was not added. "
        "Choose a smaller photo or resize it first."
    )
    expect(page.locator("input#photos")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".preview")).to_have_count(1)
    expect(page.locator(".preview-name")).to_have_text("coffee-closeup.jpg")
    assert page.evaluate("document.getElementById('photos').files.length") == 1
