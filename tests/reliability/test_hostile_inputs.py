"""The hostile-input corpus, posted to the real gunicorn web process with a real Celery worker behind it.

Every case states its outcome: a 4xx with a clear message, a `failed` photo with a reason, or success where
the input is valid. Never a 5xx, never a worker crash, never a blob named after anything the user sent.
Rejected uploads are also posted through the HTML form, which must answer with the same status as a page.
"""

import html
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from markupsafe import escape
from PIL import Image

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.e2e.helpers import wait_for_photos
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import reset_state
from tests.reliability import hostile
from tests.reliability.hostile import Multipart, review_body
from tests.reliability.state import assert_nothing_lost, query
from tests.worker import imagefactory

MB = 1024 * 1024
LIMIT = 2 * MB  # MAX_UPLOAD_BYTES in the test environment
UNICODE = "Zoë’s 🍜 ラーメン — naïve café \u202eRTL\u202c 👩‍👩‍👧 e\u0301 𝔘𝔫𝔦"
NOT_AN_IMAGE = "is not a JPEG, PNG, WebP or GIF image"
TOO_MANY_PIXELS = "megapixels"


def padded_jpeg(total: int) -> bytes:
    """A valid JPEG followed by zero bytes (legal after EOI) up to `total` bytes."""
    data = imagefactory.jpeg(64, 64)
    return data + b"\0" * (total - len(data))


def corrupt_after_header() -> bytes:
    """A JPEG whose header is intact and whose compressed data is noise."""
    data = imagefactory.jpeg(640, 480)
    start = data.index(b"\xff\xda") + 20  # just past the start-of-scan header
    return data[:start] + imagefactory.random_bytes(len(data) - start - 2, seed=7).replace(b"\xff", b"\x00") + data[-2:]


def fetch_thumbnails(web: WebProcess, photo: dict) -> dict[str, httpx.Response]:
    responses = {size: httpx.get(web.url + url, timeout=10) for size, url in photo["urls"].items()}
    for response in responses.values():
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["content-disposition"] == "inline"
        assert response.headers["x-content-type-options"] == "nosniff"
    return responses


def upright_dimensions(web: WebProcess, photo: dict) -> None:
    assert (photo["width"], photo["height"]) == (480, 640)  # stored 640x480, EXIF says rotate 90°
    small = fetch_thumbnails(web, photo)["320"]
    assert Image.open(io.BytesIO(small.content)).size == (240, 320)


def no_metadata_in_thumbnails(web: WebProcess, photo: dict) -> None:
    for response in fetch_thumbnails(web, photo).values():
        image = Image.open(io.BytesIO(response.content))
        assert not image.getexif(), "EXIF in a served thumbnail"
        assert not set(image.info) & {"exif", "xmp", "icc_profile"}, image.info.keys()
        for marker in (b"EXIF", b"Exif", b"XMP ", b"GPS", b"<x:xmpmeta"):
            assert marker not in response.content


def script_gone_from_thumbnails(web: WebProcess, photo: dict) -> None:
    for response in fetch_thumbnails(web, photo).values():
        assert b"alert" not in response.content and not response.content.startswith(b"GIF")


def thumbnails_served(web: WebProcess, photo: dict) -> None:
    fetch_thumbnails(web, photo)


@dataclass(frozen=True)
class Case:
    id: str
    photos: Callable[[], list[tuple[bytes | str, bytes]]] = list
    fields: dict[str, str] = field(default_factory=dict)
    status: int = 201
    message: str = ""  # a fragment of the 4xx message
    outcome: str | None = None  # final status of every accepted photo
    reason: str = ""  # a fragment of the failure reason
    check: Callable[[WebProcess, dict], None] | None = None
    chunked: bool = False


CASES = [
    Case("zero-byte file", lambda: [("empty.jpg", b"")], status=415, message='"empty.jpg" is empty'),
    Case("plain text renamed .jpg", lambda: [("notes.jpg", hostile.PLAIN_TEXT)], status=415, message=NOT_AN_IMAGE),
    Case("HTML renamed .jpg", lambda: [("page.jpg", hostile.HTML_PAGE)], status=415, message=NOT_AN_IMAGE),
    Case(
        "SVG with script renamed .jpg",
        lambda: [("logo.jpg", hostile.SVG_WITH_SCRIPT)],
        status=415,
        message=NOT_AN_IMAGE,
    ),
    Case("PDF renamed .jpg", lambda: [("menu.jpg", hostile.PDF_DOCUMENT)], status=415, message=NOT_AN_IMAGE),
    Case("random bytes", lambda: [("noise.jpg", imagefactory.random_bytes(50_000))], status=415, message=NOT_AN_IMAGE),
    Case(
        "markup in the name of a rejected file",
        lambda: [("<img src=x onerror=alert(1)>.jpg", hostile.HTML_PAGE)],
        status=415,
        message=NOT_AN_IMAGE,
    ),
    Case(
        "JPEG truncated at 50%",
        lambda: [("half.jpg", imagefactory.truncated(imagefactory.jpeg(640, 480), 0.5))],
        outcome="failed",
        reason="damaged",
    ),
    Case("JPEG with noise after its header", lambda: [("noisy.jpg", corrupt_after_header())], outcome="ready"),
    Case(
        "PNG decompression bomb 20000x20000",
        lambda: [("bomb.png", imagefactory.png_bomb(20000, 20000))],
        status=422,
        message=TOO_MANY_PIXELS,
    ),
    Case(
        "PNG of 49 MP in 0.2 MB, just under the pixel limit",
        lambda: [("big.png", imagefactory.png_bomb(7000, 7000))],
        outcome="ready",
        check=thumbnails_served,
    ),
    Case(
        "JPEG declaring 60000x60000",
        lambda: [("huge.jpg", imagefactory.jpeg_declaring())],
        status=422,
        message=TOO_MANY_PIXELS,
    ),
    Case(
        "progressive JPEG declaring 60000x60000",
        lambda: [("huge-p.jpg", imagefactory.jpeg_declaring(progressive=True))],
        status=422,
        message=TOO_MANY_PIXELS,
    ),
    Case(
        "2x the size limit, with Content-Length",
        lambda: [("big.jpg", padded_jpeg(2 * LIMIT))],
        status=413,
        message="MB limit",
    ),
    Case(
        "2x the size limit, chunked without Content-Length",
        lambda: [("big.jpg", padded_jpeg(2 * LIMIT))],
        status=413,
        message="MB limit",
        chunked=True,
    ),
    Case(
        "GIF+JavaScript polyglot",
        lambda: [("cat.gif", hostile.gif_js_polyglot())],
        outcome="ready",
        check=script_gone_from_thumbnails,
    ),
    Case("CMYK JPEG", lambda: [("cmyk.jpg", imagefactory.cmyk_jpeg())], outcome="ready", check=thumbnails_served),
    Case("16-bit PNG", lambda: [("deep.png", imagefactory.png16(256, 256))], outcome="ready", check=thumbnails_served),
    Case(
        "palette PNG with transparency",
        lambda: [("pal.png", imagefactory.palette_with_transparency())],
        outcome="ready",
        check=thumbnails_served,
    ),
    Case(
        "animated GIF of 500 frames",
        lambda: [("anim.gif", imagefactory.animated_gif(500, 64, 48))],
        outcome="ready",
        check=thumbnails_served,
    ),
    Case("MPO (two pictures, as phones write)", lambda: [("phone.jpg", imagefactory.mpo())], outcome="ready"),
    Case(
        "EXIF orientation 6",
        lambda: [("turn.jpg", imagefactory.jpeg(640, 480, orientation=6))],
        outcome="ready",
        check=upright_dimensions,
    ),
    Case(
        "JPEG with GPS, EXIF and XMP",
        lambda: [("gps.jpg", imagefactory.jpeg(800, 600, gps=True, xmp=True))],
        outcome="ready",
        check=no_metadata_in_thumbnails,
    ),
    Case(
        "WebP with alpha",
        lambda: [("pic.webp", imagefactory.webp(320, 240, "RGBA"))],
        outcome="ready",
        check=thumbnails_served,
    ),
    Case("file named ../../etc/passwd", lambda: [("../../etc/passwd", imagefactory.jpeg(64, 64))], outcome="ready"),
    Case(
        "file name with NUL and control characters",
        lambda: [(b"din\x00ner\x1b[31m\x07.jpg", imagefactory.jpeg(64, 64))],
        outcome="ready",
    ),
    Case(
        "file name of 5,000 characters",
        lambda: [("x" * 5000 + ".jpg", imagefactory.jpeg(64, 64))],
        status=400,
        message="The form data is malformed",
    ),
    Case(
        "6 photos when 5 are allowed",
        lambda: [(f"p{i}.jpg", imagefactory.jpeg(32, 32)) for i in range(6)],
        status=422,
        message="at most 5 photos",
    ),
    Case("rating '5; DROP TABLE review'", fields={"rating": "5; DROP TABLE review"}, status=422, message="rating"),
    Case(
        "unicode and emoji in every text field",
        lambda: [("🍜.jpg", imagefactory.jpeg(64, 64))],
        fields={"user_name": UNICODE[:50], "review_text": UNICODE * 10},
        outcome="ready",
    ),
    Case("review text of exactly 2000 characters (emoji)", fields={"review_text": "🍜" * 2000}),
    Case("review text of 2001 characters", fields={"review_text": "x" * 2001}, status=422, message="review_text"),
    Case("NUL in the review text", fields={"review_text": "a\x00b"}, status=422, message="review_text"),
]
REJECTED = [case for case in CASES if case.status >= 400]


@pytest.fixture(scope="module")
def corpus_site(
    web: WebProcess, worker: WorkerProcess, settings: Settings, blob_store: BlobStore
) -> Iterator[tuple[WebProcess, int]]:
    reset_state(settings, blob_store)
    response = httpx.post(f"{web.url}/api/restaurants", json={"name": UNICODE, "street_address": UNICODE,
                                                              "description": UNICODE * 5}, timeout=10)  # fmt: skip
    assert response.status_code == 201, response.text
    yield web, response.json()["id"]


def send(web: WebProcess, path: str, case: Case, form: Multipart, **headers: str) -> httpx.Response:
    content: Any = form.chunks() if case.chunked else form.body()
    try:
        return httpx.post(
            web.url + path, content=content, headers={"Content-Type": form.content_type, **headers}, timeout=60
        )
    except httpx.HTTPError as exc:  # the server closed the connection instead of answering
        pytest.fail(f"no answer to {case.id!r}: {exc!r}")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_api_upload(corpus_site: tuple[WebProcess, int], settings: Settings, case: Case) -> None:
    web, restaurant_id = corpus_site
    response = send(web, f"/api/restaurants/{restaurant_id}/reviews", case, review_body(case.photos(), **case.fields))
    assert response.status_code == case.status, response.text
    if case.status >= 400:
        assert response.headers["content-type"] == "application/json"
        detail = response.json()["detail"]
        if isinstance(detail, list):  # field errors: which fields, and why
            detail = "; ".join(f"{error['loc'][-1]}: {error['msg']}" for error in detail)
        assert case.message in detail
        return
    review = response.json()
    for name, value in {"user_name": "Hostile", "rating": 3, "review_text": "corpus", **case.fields}.items():
        assert review[name] == (int(value) if name == "rating" else value)  # stored exactly as sent
    if case.outcome is None:
        return
    photo_ids = [photo["id"] for photo in review["photos"]]
    assert len(photo_ids) == len(case.photos())
    results = wait_for_photos(web.url, photo_ids, timeout=60)
    for photo in results.values():
        assert photo["status"] == case.outcome, photo
        if case.outcome == "failed":
            assert case.reason in photo["failure_reason"]
        if case.check is not None:
            case.check(web, photo)


@pytest.mark.parametrize("case", REJECTED, ids=[case.id for case in REJECTED])
def test_html_form_upload(corpus_site: tuple[WebProcess, int], case: Case) -> None:
    web, restaurant_id = corpus_site
    with httpx.Client(base_url=web.url, timeout=60) as browser:
        browser.get("/restaurants/new")
        form = review_body(case.photos(), csrf_token=browser.cookies["csrftoken"], **case.fields)
        response = send_as_browser(browser, f"/restaurants/{restaurant_id}/reviews", case, form)
    assert response.status_code == case.status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script>alert" not in page and "<img src=x" not in page
    if case.message not in ("rating", "review_text"):  # field errors are worded for people on the page
        assert str(escape(case.message)) in page


def send_as_browser(browser: httpx.Client, path: str, case: Case, form: Multipart) -> httpx.Response:
    content: Any = form.chunks() if case.chunked else form.body()
    try:
        return browser.post(path, content=content, headers={"Content-Type": form.content_type, "Accept": "text/html"})
    except httpx.HTTPError as exc:
        pytest.fail(f"no answer to {case.id!r}: {exc!r}")


def test_corpus_leaves_a_consistent_system(
    corpus_site: tuple[WebProcess, int], worker: WorkerProcess, settings: Settings, blob_store: BlobStore
) -> None:
    web, restaurant_id = corpus_site
    orphans = assert_nothing_lost(settings, blob_store)
    assert orphans == set(), "a rejected upload left its photos in Blob"
    assert query(settings, "SELECT count(*) FROM review")[0][0] > 0  # DROP TABLE did nothing
    assert worker.alive() and web.alive()
    assert "Traceback" not in web.log()
    for line in worker.log().splitlines():  # expected failures are logged at info, bugs at error
        assert '"level": "error"' not in line and '"level": "critical"' not in line, line
    assert "WorkerLostError" not in worker.log()
    assert '" 500 ' not in web.log() and '" 503 ' not in web.log()
    detail = httpx.get(f"{web.url}/api/restaurants/{restaurant_id}", timeout=10).json()
    assert detail["name"] == UNICODE and detail["street_address"] == UNICODE
    page = httpx.get(f"{web.url}/restaurants/{restaurant_id}", timeout=10).text
    assert html.escape(UNICODE[:50]) in page
