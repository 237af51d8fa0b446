"""No span attribute, span event or log record holds what a person wrote, a token or a key."""

import httpx

from tests.e2e.helpers import create_restaurant, wait_for_photos
from tests.fixtures.otlp import OtlpReceiver
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import AZURITE_KEY
from tests.telemetry.helpers import run_span, server_span, trace_of
from tests.worker import imagefactory

NAME = "Zoë-name-7f3a91"
TEXT = "text-c04e5b: the soup was salty"
FILE = "file-91d2e8.jpg"
SEARCH = "search-5ab1f0"
MARKERS = (NAME, TEXT, FILE, SEARCH, FILE.removesuffix(".jpg"))
SECRETS = (AZURITE_KEY, AZURITE_KEY[:20], "AccountKey=", "SharedKey ")


def test_spans_and_logs_hold_no_user_text_token_or_key(
    web: WebProcess, worker: WorkerProcess, otlp: OtlpReceiver
) -> None:
    restaurant_id = create_restaurant(web.url)
    posted = httpx.post(
        f"{web.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": NAME, "rating": "4", "review_text": TEXT},
        files=[("photos", (FILE, imagefactory.jpeg(800, 600), "image/jpeg"))],
        timeout=30,
    )
    assert posted.status_code == 201, posted.text
    refused = httpx.post(
        f"{web.url}/api/restaurants/{restaurant_id}/reviews",
        data={"user_name": NAME, "rating": "4", "review_text": TEXT},
        files=[("photos", (FILE, b"plain text, not an image" * 50, "image/jpeg"))],
        timeout=30,
    )
    assert refused.status_code == 415 and FILE in refused.text  # the person sees their file name...
    assert httpx.get(f"{web.url}/api/restaurants", params={"q": SEARCH}, timeout=10).status_code == 200
    [photo_id] = [photo["id"] for photo in posted.json()["photos"]]
    wait_for_photos(web.url, [photo_id])

    search = server_span(otlp, "GET /api/restaurants")
    assert search.attributes["http.url"].endswith("/api/restaurants?q")  # which parameter, not what it said
    trace_of(otlp, run_span(otlp, photo_id))  # the whole journey has been exported by now
    otlp.wait_for(lambda receiver: receiver.logs, what="log records")

    exported = b"".join(otlp.raw_bodies)
    stdout = web.log() + worker.log()
    for marker in MARKERS:
        assert marker.encode() not in exported, f"{marker!r} was exported"  # ...telemetry never does
        assert marker not in stdout, f"{marker!r} is in a log line"
    for secret in SECRETS:
        assert secret.encode() not in exported, f"{secret!r} was exported"
        assert secret not in stdout, f"{secret!r} is in a log line"
    # The check can fail: the exported data does hold the ids that name this journey.
    assert photo_id.encode() in exported and str(restaurant_id).encode() in exported
