"""Posting reviews with photos: streamed to Blob, checked by their bytes, nothing left behind on errors."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from restaurant_web.app import create_app
from tests.fixtures.services import free_port
from tests.fixtures.stack import AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.worker import imagefactory


def raw_blobs(store: BlobStore) -> list[str]:
    return sorted(blob.name for blob in store.list_raw())


def committed_blocks(store: BlobStore, name: str) -> int:
    committed, _ = store._client.get_blob_client(store.uploads, name).get_block_list("committed")
    return len(committed)


def photo_rows(settings: Settings) -> list[tuple]:
    engine = create_engine(AppEnv.database_url(settings))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id::text, status, content_type, size_bytes FROM photo ORDER BY position")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def review_form(**overrides: str) -> dict[str, str]:
    return {"user_name": "Ann", "rating": "4", "review_text": "Lovely", **overrides}


def test_review_with_two_photos_streams_them_to_blob_as_pending(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = make_restaurant(client)
    jpeg = imagefactory.jpeg(800, 600)
    png = imagefactory.png(300, 200)
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(),
        files=[("photos", ("dinner.jpg", jpeg, "image/jpeg")), ("photos", ("dessert.bin", png, "text/plain"))],
    )
    assert response.status_code == 201, response.text
    photos = response.json()["photos"]
    assert [photo["status"] for photo in photos] == ["pending", "pending"]
    assert raw_blobs(blob_store) == sorted(photo["id"] for photo in photos)
    rows = photo_rows(settings)
    # The type comes from the bytes, never from the client's Content-Type or the file name.
    assert [(row[2], row[3]) for row in rows] == [("image/jpeg", len(jpeg)), ("image/png", len(png))]
    assert blob_store.read_raw(photos[0]["id"]) == jpeg
    # Each photo fits in the first block: one Put Blob request, no staged blocks.
    assert [committed_blocks(blob_store, photo["id"]) for photo in photos] == [0, 0]

    status = client.get(f"/api/photos/{photos[0]['id']}").json()
    assert status == {"id": photos[0]["id"], "status": "pending", "failure_reason": None, "width": None,
                      "height": None, "urls": {}}  # fmt: skip
    page = client.get(f"/restaurants/{restaurant['id']}").text
    assert page.count('data-status="pending"') == 2


def test_large_photo_is_staged_in_several_blocks(client: Browser, blob_store: BlobStore, app_env: AppEnv) -> None:
    big_env = app_env.with_(MAX_UPLOAD_BYTES=str(12 * 1024 * 1024))
    restaurant = make_restaurant(client)
    data = imagefactory.jpeg(64, 64) + b"\0" * (9 * 1024 * 1024)  # trailing bytes after EOI are legal
    with TestClient(create_app(big_env.settings())) as big:
        response = big.post(
            f"/api/restaurants/{restaurant['id']}/reviews",
            data=review_form(),
            files=[("photos", ("big.jpg", data, "image/jpeg"))],
        )
    assert response.status_code == 201, response.text
    assert blob_store.read_raw(response.json()["photos"][0]["id"]) == data
    # Staged and committed (the test client hands the body over in one piece, so it may be one big block).
    assert committed_blocks(blob_store, response.json()["photos"][0]["id"]) >= 1


def test_oversize_photo_is_413_and_leaves_nothing(client: Browser, blob_store: BlobStore, settings: Settings) -> None:
    restaurant = make_restaurant(client)
    good = imagefactory.jpeg(64, 64)
    oversize = imagefactory.jpeg(64, 64) + b"\0" * (settings.max_upload_bytes + 1)
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(),
        files=[("photos", ("ok.jpg", good, "image/jpeg")), ("photos", ("huge.jpg", oversize, "image/jpeg"))],
    )
    assert response.status_code == 413
    assert "huge.jpg" in response.json()["detail"] and "MB" in response.json()["detail"]
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []


def test_oversize_upload_without_content_length_is_413(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = make_restaurant(client)
    boundary = "testboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="user_name"\r\n\r\nAnn\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="rating"\r\n\r\n3\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="x.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    sent = 0

    def chunked_body() -> Iterator[bytes]:
        nonlocal sent
        yield head + imagefactory.jpeg(64, 64)
        for _ in range(2 * settings.max_upload_bytes // 65536):
            sent += 65536
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        content=chunked_body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []


def test_declared_content_length_over_the_limit_is_refused_before_reading(client: Browser, settings: Settings) -> None:
    restaurant = make_restaurant(client)
    too_much = settings.max_photos_per_review * settings.max_upload_bytes * 2
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        content=b"--x--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(too_much)},
    )
    assert response.status_code == 413


def test_text_file_named_jpg_is_415_and_leaves_nothing(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = make_restaurant(client)
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(),
        files=[("photos", ("ok.png", imagefactory.png(32, 32), "image/png")),
               ("photos", ("notes.jpg", b"just some text, not an image\n" * 20, "image/jpeg"))],
    )  # fmt: skip
    assert response.status_code == 415
    assert "notes.jpg" in response.json()["detail"]
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []


def test_header_declaring_60000_by_60000_is_422_and_leaves_nothing(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = make_restaurant(client)
    for name, data in (("huge.png", imagefactory.png_bomb(60000, 60000)), ("huge.jpg", imagefactory.jpeg_declaring())):
        response = client.post(
            f"/api/restaurants/{restaurant['id']}/reviews",
            data=review_form(),
            files=[("photos", (name, data, "image/png"))],
        )
        assert response.status_code == 422, name
        assert name in response.json()["detail"] and "megapixels" in response.json()["detail"]
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []


def test_six_photos_when_five_are_allowed_is_422(client: Browser, blob_store: BlobStore, settings: Settings) -> None:
    restaurant = make_restaurant(client)
    photo = imagefactory.jpeg(32, 32)
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(),
        files=[("photos", (f"p{i}.jpg", photo, "image/jpeg")) for i in range(6)],
    )
    assert response.status_code == 422
    assert "at most 5 photos" in response.json()["detail"]
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []


def test_invalid_fields_after_photos_delete_the_stored_photos(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    restaurant = make_restaurant(client)
    response = client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(rating="9"),
        files=[("photos", ("a.jpg", imagefactory.jpeg(32, 32), "image/jpeg"))],
    )
    assert response.status_code == 422
    assert raw_blobs(blob_store) == []


def test_broker_down_at_upload_still_saves_review_with_pending_photo(
    app_env: AppEnv, clean_state: None, blob_store: BlobStore
) -> None:
    no_broker = app_env.with_(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    with Browser(create_app(no_broker.settings())) as client:
        restaurant = make_restaurant(client)
        response = client.post(
            f"/api/restaurants/{restaurant['id']}/reviews",
            data=review_form(),
            files=[("photos", ("a.jpg", imagefactory.jpeg(64, 48), "image/jpeg"))],
        )
        assert response.status_code == 201, response.text
        photo = response.json()["photos"][0]
        assert photo["status"] == "pending"
        assert raw_blobs(blob_store) == [photo["id"]]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["broker"].startswith("unavailable")
        assert ready.json()["checks"]["postgres"] == "ok"


def test_html_review_form_with_photos_redirects_to_details(client: Browser, blob_store: BlobStore) -> None:
    restaurant = make_restaurant(client)
    response = client.post(
        f"/restaurants/{restaurant['id']}/reviews",
        data=review_form(csrf_token=client.csrf_token()),
        files=[("photos", ("a.jpg", imagefactory.jpeg(64, 48), "image/jpeg"))],
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/restaurants/{restaurant['id']}#review-")
    page = client.get(f"/restaurants/{restaurant['id']}").text
    assert "Processing photo" in page
    assert len(raw_blobs(blob_store)) == 1


def test_html_review_form_rejected_photo_shows_message_on_the_page(client: Browser) -> None:
    restaurant = make_restaurant(client)
    response = client.post(
        f"/restaurants/{restaurant['id']}/reviews",
        data=review_form(csrf_token=client.csrf_token()),
        files=[("photos", ("doc.jpg", b"%PDF-1.7 not a photo", "image/jpeg"))],
    )
    assert response.status_code == 415
    assert "text/html" in response.headers["content-type"]
    assert "doc.jpg" in response.text and 'id="photos-error"' in response.text


@pytest.mark.parametrize("token", [None, "wrong-token-wrong-token-wrong"])
def test_html_posts_without_valid_csrf_token_are_403(
    client: Browser, blob_store: BlobStore, settings: Settings, token: str | None
) -> None:
    restaurant = make_restaurant(client)
    client.csrf_token()
    extra = {} if token is None else {"csrf_token": token}
    assert client.post("/restaurants", data={"name": "Sneaky", **extra}).status_code == 403
    response = client.post(
        f"/restaurants/{restaurant['id']}/reviews",
        data=review_form(**extra),
        files=[("photos", ("a.jpg", imagefactory.jpeg(32, 32), "image/jpeg"))],
    )
    assert response.status_code == 403
    no_photo = client.post(f"/restaurants/{restaurant['id']}/reviews", data=review_form(**extra))
    assert no_photo.status_code == 403
    assert raw_blobs(blob_store) == []
    assert len(client.get("/api/restaurants").json()["items"]) == 1
    assert client.get(f"/api/restaurants/{restaurant['id']}").json()["review_count"] == 0


def test_review_text_is_escaped_in_pages(client: Browser) -> None:
    restaurant = make_restaurant(client, "<b>Bold</b> & Co")
    client.post(
        f"/api/restaurants/{restaurant['id']}/reviews",
        data=review_form(user_name="<img src=x onerror=alert(1)>", review_text="<script>alert(1)</script>"),
        files=[],
    )
    page = client.get(f"/restaurants/{restaurant['id']}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in client.get("/").text


def test_photo_for_a_restaurant_that_does_not_exist_is_404_and_leaves_nothing(
    client: Browser, blob_store: BlobStore, settings: Settings
) -> None:
    response = client.post(
        "/api/restaurants/999999/reviews",
        data=review_form(),
        files=[("photos", ("a.jpg", imagefactory.jpeg(64, 64), "image/jpeg"))],
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Restaurant not found"}
    assert raw_blobs(blob_store) == []
    assert photo_rows(settings) == []
