"""The main journey on a phone: add a restaurant, post a review with two real photos, watch them appear, view them."""

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE, Site, Watch, open_page
from tests.browser.helpers import PHOTOS, assert_no_horizontal_overflow, throttle_uploads
from tests.fixtures.stack import REPO_ROOT

pytestmark = pytest.mark.browser

SCREENSHOT = REPO_ROOT / "docs/screenshot.png"


@contextmanager
def worker_paused(site: Site) -> Iterator[None]:
    """Hold the worker still, so the page is seen with its photos still processing."""
    site.worker.signal(signal.SIGSTOP)
    try:
        yield
    finally:
        site.worker.signal(signal.SIGCONT)


def add_restaurant_through_the_form(page: Page, watch: Watch, name: str) -> str:
    watch.allow_console_error(r"status of 422")  # Chrome logs the refused form's 422 answer
    page.goto("/")
    page.get_by_role("link", name="Add a restaurant").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a restaurant")
    address = page.get_by_label("Street address")
    address.fill("12 Harbour Street")
    page.get_by_role("button", name="Add restaurant").click()
    # The server refuses a nameless restaurant and keeps what was typed.
    expect(page.locator("#name-error")).to_be_visible()
    expect(address).to_have_value("12 Harbour Street")
    page.get_by_label(re.compile(r"^Name")).fill(name)
    page.get_by_label("Description").fill("A tiny espresso bar by the harbour. Single-origin beans, roasted in-house.")
    page.get_by_role("button", name="Add restaurant").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url


def test_review_with_two_photos_from_form_to_lightbox(
    phone: Page, browser: Browser, site: Site, watch: Watch, request: pytest.FixtureRequest
) -> None:
    page = phone
    name = "Pikolo Espresso Bar"
    restaurant_url = add_restaurant_through_the_form(page, watch, name)
    restaurant_id = restaurant_url.rsplit("/", 1)[-1]
    expect(page.get_by_text("No reviews yet.")).to_be_visible()
    # An earlier review, so the page looks like a real one.
    httpx.post(
        f"{site.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": "Jonas", "rating": "4", "review_text": "Lovely flat white, a bit cramped at noon."},
        timeout=10,
    ).raise_for_status()
    page.reload()

    # Fill the form with the keyboard where it matters: the rating is a radio group of stars.
    page.get_by_label("Your name").fill("Maya")
    page.get_by_label("Your name").press("Tab")
    expect(page.locator("#rating-1")).to_be_focused()
    page.keyboard.press("Space")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#rating-5")).to_be_checked()
    text = "The best espresso in town: thick crema, no bitterness. Get the cortado too."
    page.get_by_role("textbox", name="Your review").fill(text)
    page.locator("input#photos").set_input_files(PHOTOS)
    previews = page.locator(".preview img")
    expect(previews).to_have_count(2)
    for preview in previews.all():
        expect(preview).to_have_attribute("src", re.compile(r"^blob:"))

    throttle_uploads(page, 40 * 1024)
    with worker_paused(site):
        page.get_by_role("button", name="Post review").click()
        expect(page.locator(".upload")).to_be_visible()
        expect(page.get_by_role("button", name="Posting…")).to_be_disabled()
        # The bar moves with the browser's upload progress events, not in one jump.
        page.wait_for_function(
            "() => { const p = document.getElementById('upload-progress'); return p.value > 0 && p.value < 100; }"
        )
        review = page.locator("article.review.is-new")
        expect(review).to_be_visible(timeout=20_000)
        expect(review).to_be_in_viewport()
        assert re.search(r"#review-\d+$", page.url)
        expect(review.locator('.photo[data-status="pending"]')).to_have_count(2)
        expect(review.get_by_text("Processing photo…")).to_have_count(2)
        page.evaluate("window.stillTheSamePage = true")

    thumbnails = review.locator(".photo-link img")
    expect(thumbnails).to_have_count(2, timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('article.is-new .photo-link img')].every(i => i.naturalWidth > 0)"
    )
    assert page.evaluate("window.stillTheSamePage") is True, "the page reloaded instead of updating in place"

    # The lightbox, by keyboard: Enter opens it on the large size, arrows move, Esc closes and focus returns.
    first = review.locator(".photo-link").first
    first.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#lightbox")
    caption = dialog.locator(".lightbox-caption")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close photo viewer")).to_be_focused()
    expect(dialog.locator(".lightbox-image")).to_have_attribute("src", re.compile(r"/photos/[0-9a-f-]+/1280$"))
    expect(caption).to_have_text("Photo 1 of 2 from Maya's review")
    page.keyboard.press("ArrowRight")
    expect(caption).to_have_text("Photo 2 of 2 from Maya's review")
    page.keyboard.press("ArrowRight")
    expect(caption).to_have_text("Photo 1 of 2 from Maya's review")
    page.keyboard.press("ArrowLeft")
    expect(caption).to_have_text("Photo 2 of 2 from Maya's review")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(first).to_be_focused()

    # ... and by touch: a swipe to the left shows the next photo.
    first.click()
    expect(caption).to_have_text("Photo 1 of 2 from Maya's review")
    page.mouse.move(300, 400)
    page.mouse.down()
    page.mouse.move(200, 405, steps=4)
    page.mouse.move(80, 410, steps=4)
    page.mouse.up()
    expect(caption).to_have_text("Photo 2 of 2 from Maya's review")
    dialog.get_by_role("button", name="Close photo viewer").click()
    expect(dialog).to_be_hidden()

    # Rendered by the server for a new visitor: phones get the 320 px size, sized before it loads.
    context, visitor = open_page(browser, site, watch, PHONE)
    visitor.goto(restaurant_url)
    tile = visitor.locator(".photo-link img").first
    expect(tile).to_have_attribute("loading", "lazy")
    expect(tile).to_have_attribute("srcset", re.compile(r"/320 320w, .*/1280 600w$"))
    expect(tile).to_have_attribute("width", "320")
    expect(tile).to_have_attribute("height", "213")
    tile.scroll_into_view_if_needed()
    visitor.wait_for_function("() => document.querySelector('.photo-link img').currentSrc.endsWith('/320')")
    assert_no_horizontal_overflow(visitor)
    context.close()

    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        save_screenshot(page, request.getfixturevalue("desktop"), restaurant_url)


def _wait_for_images(page: Page) -> None:
    page.wait_for_function("() => [...document.images].every(i => i.complete)")


def save_screenshot(phone: Page, desktop: Page, url: str) -> None:
    """The README's picture: the restaurant page on a desktop and on a phone, side by side."""
    desktop.goto(url)
    _wait_for_images(desktop)
    phone.goto(url)
    _wait_for_images(phone)
    wide = Image.open(BytesIO(desktop.screenshot()))
    narrow = Image.open(BytesIO(phone.screenshot()))
    margin, bezel = 40, 14
    phone_left = wide.width + 2 * margin + bezel
    canvas = Image.new("RGB", (phone_left + narrow.width + bezel + margin, wide.height + 2 * margin), "#e4dccf")
    canvas.paste(wide, (margin, margin))
    top = margin + (wide.height - narrow.height) // 2
    ImageDraw.Draw(canvas).rounded_rectangle(
        (phone_left - bezel, top - bezel, phone_left + narrow.width + bezel, top + narrow.height + bezel),
        radius=36,
        fill="#1f1b18",
    )
    canvas.paste(narrow, (phone_left, top))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    canvas.save(SCREENSHOT, optimize=True)
