"""No secret, token or connection string in logs or error pages, even at DEBUG and through failures.

Each test runs a full flow (uploads, a rejected file, thumbnails, readiness, a storage and a broker outage)
with web and worker logging at DEBUG, then greps everything they wrote for every secret they were given.
"""

import secrets
from pathlib import Path

import httpx
import pytest

from restaurant_shared.blobstore import BlobStore
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.identity_emulator import ManagedIdentityEmulator
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import AZURITE_KEY, Azurite, RedisServer
from tests.fixtures.stack import AppEnv
from tests.identity.conftest import azurite_oauth, ca_bundle, emulator, identity_env, postgres_entra  # noqa: F401
from tests.reliability.conftest import NO_RATE_LIMIT
from tests.worker import imagefactory

DEBUG = {**NO_RATE_LIMIT, "LOG_LEVEL": "DEBUG"}


def exercise(web: WebProcess) -> list[httpx.Response]:
    """The requests of a normal day plus the error paths; returns what clients saw."""
    restaurant_id = create_restaurant(web.url, "Secretless")
    photo_ids = post_review(web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(800, 600, gps=True))])
    seen = [
        httpx.post(
            f"{web.url}/api/restaurants/{restaurant_id}/reviews",
            data={"user_name": "x", "rating": "3"},
            files=[("photos", ("bad.jpg", b"not an image", "image/jpeg"))],
            timeout=30,
        ),
        httpx.get(f"{web.url}/restaurants/999999", timeout=30),
        httpx.get(f"{web.url}/readyz", timeout=30),
    ]
    wait_for_photos(web.url, photo_ids, timeout=90)
    return seen


def assert_absent(secret_values: dict[str, str], texts: dict[str, str]) -> None:
    for secret_name, value in secret_values.items():
        assert len(value) >= 16, secret_name  # a value this long cannot turn up by accident
        for text_name, text in texts.items():
            assert value not in text, f"{secret_name} appears in {text_name}"


def test_local_mode_logs_and_error_pages_hold_no_key_or_password(
    app_env: AppEnv,
    tmp_path: Path,
    azurite: Azurite | None,
    redis_server: RedisServer | None,
    blob_store: BlobStore,
    clean_state: None,
) -> None:
    if azurite is None or redis_server is None:
        pytest.skip("needs the Azurite and Redis started by the test session")
    password = "pw-" + secrets.token_urlsafe(24)  # Postgres trusts local connections: any password works
    env = app_env.with_(POSTGRES_PASSWORD=password)
    web = WebProcess(env, tmp_path, extra_env=DEBUG).start()
    worker = WorkerProcess(env, tmp_path, extra_env=DEBUG).start()
    try:
        seen = exercise(web)
        restaurant_id = create_restaurant(web.url, "Outages")
        azurite.stop()
        try:
            seen.append(
                httpx.post(
                    f"{web.url}/restaurants/{restaurant_id}/reviews",
                    data={"user_name": "x", "rating": "3"},
                    files=[("photos", ("a.jpg", imagefactory.jpeg(64, 64), "image/jpeg"))],
                    timeout=30,
                )
            )
            seen.append(httpx.get(f"{web.url}/readyz", timeout=30))
        finally:
            azurite.start()
        redis_server.stop()
        try:
            photo_ids = post_review(web.url, restaurant_id, [("b.jpg", imagefactory.jpeg(64, 64))])
            seen.append(httpx.get(f"{web.url}/readyz", timeout=30))
        finally:
            redis_server.start()
        wait_for_photos(web.url, photo_ids, timeout=90)
    finally:
        web.stop()
        worker.stop()
    assert {response.status_code for response in seen} >= {503, 415, 404}
    texts = {"web log": web.log(), "worker log": worker.log()}
    texts.update({f"response {i} ({r.status_code})": r.text for i, r in enumerate(seen)})
    connection_string = app_env["AZURE_STORAGE_CONNECTION_STRING"]
    assert_absent({"Azurite key": AZURITE_KEY, "connection string": connection_string, "password": password}, texts)
    assert "AccountKey" not in texts["web log"] + texts["worker log"]


def test_identity_mode_logs_hold_no_token_or_identity_header(
    identity_env: AppEnv,  # noqa: F811
    emulator: ManagedIdentityEmulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    issued: list[str] = []

    def remember(resource: str, client_id: str, token: str) -> None:
        issued.append(token)

    emulator.on_token_issued.append(remember)
    emulator.expire_all()  # every token this flow uses is minted (and remembered) from now on
    web = WebProcess(identity_env, tmp_path, extra_env=DEBUG).start(timeout=60)
    worker = WorkerProcess(identity_env, tmp_path, extra_env=DEBUG, name="identity-worker").start(timeout=60)
    try:
        seen = exercise(web)
    finally:
        web.stop()
        worker.stop()
        emulator.on_token_issued.remove(remember)
    assert len(issued) >= 2, "the flow asked for no tokens: nothing was checked"
    texts = {"web log": web.log(), "worker log": worker.log()}
    texts.update({f"response {i}": r.text for i, r in enumerate(seen)})
    secrets_given = {f"token {i}": token for i, token in enumerate(issued)}
    secrets_given["IDENTITY_HEADER"] = emulator.identity_header
    assert_absent(secrets_given, texts)
    for token in issued:  # not even the signature part alone
        assert token.rsplit(".", 1)[-1] not in texts["web log"] + texts["worker log"]
