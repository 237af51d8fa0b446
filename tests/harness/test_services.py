"""The harness itself: real servers start, answer, survive restarts, and speak Entra-style auth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import httpx
import jwt
import psycopg2
import pytest
import redis
from azure.core.exceptions import HttpResponseError
from azure.identity import DefaultAzureCredential
from azure.storage.blob import BlobClient, BlobSasPermissions, BlobServiceClient, generate_blob_sas
from azure.storage.queue import QueueServiceClient

from tests.fixtures import services
from tests.fixtures.identity_emulator import (
    DEFAULT_IDENTITY,
    POSTGRES_RESOURCE,
    STORAGE_RESOURCE,
    Identity,
    ManagedIdentityEmulator,
)
from tests.fixtures.services import Azurite, PostgresServer, RedisServer

STORAGE_SCOPE = f"{STORAGE_RESOURCE}/.default"
POSTGRES_SCOPE = f"{POSTGRES_RESOURCE}/.default"
OTHER_IDENTITY = Identity(
    client_id="99999999-8888-7777-6666-555555555555",
    principal_id="12345678-0000-4000-8000-00000000abcd",
    tenant_id=DEFAULT_IDENTITY.tenant_id,
    name="restaurant-worker-identity",
)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_ssl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    server = PostgresServer(tmp_path_factory.mktemp("pg-ssl"), ssl=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite-oauth"), https=True, oauth=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator() -> Iterator[ManagedIdentityEmulator]:
    server = ManagedIdentityEmulator(identities=[DEFAULT_IDENTITY, OTHER_IDENTITY])
    server.start()
    yield server
    server.stop()


@pytest.fixture
def identity_env(
    emulator: ManagedIdentityEmulator, azurite_oauth: Azurite, monkeypatch: pytest.MonkeyPatch
) -> ManagedIdentityEmulator:
    """This process authenticates through the emulator and trusts the test CA."""
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    # Preset on some machines to the system bundle, which lacks the test CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle_path))
    return emulator


def token_url(emulator: ManagedIdentityEmulator, **params: str) -> str:
    query = {"api-version": "2019-08-01", "resource": STORAGE_RESOURCE, **params}
    return str(httpx.URL(emulator.endpoint, params=query))


def claims(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


def test_postgres_answers_and_comes_back_on_the_same_port(postgres: PostgresServer) -> None:
    port = postgres.port
    postgres.create_database("survivor")
    postgres.stop()
    assert not postgres.is_running()
    with pytest.raises(psycopg2.OperationalError):
        postgres.connect()
    postgres.start()
    assert postgres.port == port
    assert postgres.admin_dsn("survivor") == f"postgresql+psycopg2://postgres@127.0.0.1:{port}/survivor"
    conn = postgres.connect("survivor")
    with conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_setting('port')")
        assert cur.fetchone() == ("survivor", str(port))
    conn.close()
    postgres.drop_database("survivor")


def test_redis_answers_and_comes_back_on_the_same_port(redis_server: RedisServer) -> None:
    assert redis.Redis.from_url(redis_server.url).ping()
    url = redis_server.url
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    redis_server.start()
    assert redis_server.url == url
    assert redis.Redis.from_url(url).ping()


def test_azurite_keeps_blobs_and_messages_across_restart(azurite: Azurite) -> None:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string, retry_total=0)
    blobs.create_container("photos").upload_blob("a.txt", b"hello")
    queues = QueueServiceClient.from_connection_string(azurite.connection_string, retry_total=0)
    queues.create_queue("tasks").send_message("work")
    blob_url, queue_url = azurite.blob_url, azurite.queue_url

    azurite.restart()

    assert (azurite.blob_url, azurite.queue_url) == (blob_url, queue_url)
    assert blobs.get_blob_client("photos", "a.txt").download_blob().readall() == b"hello"
    assert [m.content for m in queues.get_queue_client("tasks").peek_messages()] == ["work"]


def test_emulator_protocol(emulator: ManagedIdentityEmulator) -> None:
    header = {"X-IDENTITY-HEADER": emulator.identity_header}

    assert httpx.get(token_url(emulator)).status_code == 401
    assert httpx.get(token_url(emulator), headers={"X-IDENTITY-HEADER": "nope"}).status_code == 401
    unknown = httpx.get(token_url(emulator, client_id="00000000-0000-0000-0000-000000000000"), headers=header)
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_request"

    ok = httpx.get(token_url(emulator, client_id=OTHER_IDENTITY.client_id), headers=header)
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer"
    assert body["resource"] == STORAGE_RESOURCE
    assert body["client_id"] == OTHER_IDENTITY.client_id
    assert isinstance(body["expires_on"], str)
    token = claims(body["access_token"])
    assert token["aud"] == STORAGE_RESOURCE
    assert token["iss"] == f"https://sts.windows.net/{OTHER_IDENTITY.tenant_id}/"
    assert token["oid"] == OTHER_IDENTITY.principal_id
    assert token["tid"] == OTHER_IDENTITY.tenant_id
    assert token["appid"] == OTHER_IDENTITY.client_id
    assert int(body["expires_on"]) == token["exp"]
    assert token["nbf"] == token["iat"] and token["exp"] == token["iat"] + 3600  # type: ignore[operator]

    # Without client_id the request is for the default identity.
    default = httpx.get(token_url(emulator), headers=header).json()
    assert claims(default["access_token"])["oid"] == DEFAULT_IDENTITY.principal_id

    assert [(r.status, r.client_id) for r in emulator.requests][-2:] == [
        (200, OTHER_IDENTITY.client_id),
        (200, None),
    ]
    assert {r.pid for r in emulator.requests} == {os.getpid()}


def test_emulator_tokens_are_stable_until_rotated(emulator: ManagedIdentityEmulator) -> None:
    issued: list[tuple[str, str, str]] = []
    emulator.on_token_issued.append(lambda *args: issued.append(args))

    first = emulator.token_for(POSTGRES_RESOURCE)
    assert emulator.token_for(POSTGRES_RESOURCE) == first
    assert emulator.token_for(STORAGE_RESOURCE) != first
    assert emulator.token_for(POSTGRES_RESOURCE, OTHER_IDENTITY.client_id) != first

    rotated = emulator.rotate(POSTGRES_RESOURCE)
    assert rotated != first
    assert emulator.token_for(POSTGRES_RESOURCE) == rotated
    emulator.expire_all()
    assert emulator.token_for(POSTGRES_RESOURCE) not in (first, rotated)
    assert [(r, c) for r, c, _ in issued] == [
        (POSTGRES_RESOURCE, DEFAULT_IDENTITY.client_id),
        (STORAGE_RESOURCE, DEFAULT_IDENTITY.client_id),
        (POSTGRES_RESOURCE, OTHER_IDENTITY.client_id),
        (POSTGRES_RESOURCE, DEFAULT_IDENTITY.client_id),
        (POSTGRES_RESOURCE, DEFAULT_IDENTITY.client_id),
    ]

    emulator.audience_override = POSTGRES_RESOURCE
    assert claims(emulator.token_for(STORAGE_RESOURCE))["aud"] == POSTGRES_RESOURCE
    emulator.audience_override = None
    emulator.expired_mode = True
    assert claims(emulator.token_for(STORAGE_RESOURCE))["exp"] < datetime.now(UTC).timestamp()  # type: ignore[operator]


AZURE_IDENTITY_PROBE = """
import json
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
print(json.dumps({
    "default": DefaultAzureCredential().get_token("https://storage.azure.com/.default").token,
    "other": ManagedIdentityCredential(client_id=%r).get_token("https://storage.azure.com/.default").token,
}))
"""


def test_azure_identity_in_another_process_gets_emulator_tokens(emulator: ManagedIdentityEmulator) -> None:
    env = {**os.environ, **emulator.env()}
    proc = subprocess.Popen(
        [sys.executable, "-c", AZURE_IDENTITY_PROBE % OTHER_IDENTITY.client_id],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    tokens = json.loads(out)

    assert tokens["default"] == emulator.token_for(STORAGE_RESOURCE)
    assert tokens["other"] == emulator.token_for(STORAGE_RESOURCE, OTHER_IDENTITY.client_id)
    # azure-identity strips "/.default": the endpoint sees the bare resource.
    assert {(r.resource, r.client_id, r.pid) for r in emulator.requests} == {
        (STORAGE_RESOURCE, DEFAULT_IDENTITY.client_id, proc.pid),
        (STORAGE_RESOURCE, OTHER_IDENTITY.client_id, proc.pid),
    }
    assert all("azsdk-python-identity" in (r.user_agent or "") for r in emulator.requests)


def oauth_blobs(azurite: Azurite) -> BlobServiceClient:
    return BlobServiceClient(azurite.blob_url, credential=DefaultAzureCredential(), retry_total=0)


def test_azurite_accepts_managed_identity_tokens(azurite_oauth: Azurite, identity_env: ManagedIdentityEmulator) -> None:
    container = oauth_blobs(azurite_oauth).create_container("oauth-ok")
    container.upload_blob("hello.txt", b"hi")
    assert container.download_blob("hello.txt").readall() == b"hi"
    assert any(r.resource == STORAGE_RESOURCE and r.status == 200 for r in identity_env.requests)


@pytest.mark.parametrize("mode", ["wrong-audience", "expired"])
def test_azurite_rejects_bad_tokens(azurite_oauth: Azurite, identity_env: ManagedIdentityEmulator, mode: str) -> None:
    if mode == "expired":
        identity_env.expired_mode = True
    else:
        identity_env.audience_override = POSTGRES_RESOURCE
    with pytest.raises(HttpResponseError) as failure:
        oauth_blobs(azurite_oauth).create_container(f"never-{mode}")
    assert failure.value.status_code == 403
    assert "ErrorCode:AuthenticationFailed" in failure.value.message


def test_azurite_user_delegation_sas(azurite_oauth: Azurite, identity_env: ManagedIdentityEmulator) -> None:
    service = oauth_blobs(azurite_oauth)
    service.create_container("sas").upload_blob("photo.jpg", b"jpeg")
    now = datetime.now(UTC)
    key = service.get_user_delegation_key(now - timedelta(minutes=1), now + timedelta(hours=1))
    assert (key.signed_oid, key.signed_tid) == (DEFAULT_IDENTITY.principal_id, DEFAULT_IDENTITY.tenant_id)
    sas = generate_blob_sas(
        service.account_name or "", "sas", "photo.jpg", user_delegation_key=key,
        permission=BlobSasPermissions(read=True), expiry=now + timedelta(minutes=10),
    )  # fmt: skip
    anonymous = BlobClient.from_blob_url(f"{azurite_oauth.blob_url}/sas/photo.jpg?{sas}", retry_total=0)
    assert anonymous.download_blob().readall() == b"jpeg"
    tampered = BlobClient.from_blob_url(f"{azurite_oauth.blob_url}/sas/photo.jpg?{sas}x", retry_total=0)
    with pytest.raises(HttpResponseError) as failure:
        tampered.download_blob()
    assert "ErrorCode:AuthorizationFailure" in failure.value.message


def test_postgres_accepts_token_as_password_over_ssl(
    postgres_ssl: PostgresServer, identity_env: ManagedIdentityEmulator
) -> None:
    role = DEFAULT_IDENTITY.name

    def follow_token(resource: str, client_id: str, token: str) -> None:
        # Entra accepts whichever token the identity currently holds; a role password can hold one.
        if resource == POSTGRES_RESOURCE and client_id == DEFAULT_IDENTITY.client_id:
            postgres_ssl.create_login_role(role, token)

    identity_env.on_token_issued.append(follow_token)
    first = identity_env.token_for(POSTGRES_RESOURCE)
    postgres_ssl.create_database("reviews", owner=role)

    def login(password: str) -> psycopg2.extensions.connection:
        return postgres_ssl.connect(
            "reviews", user=role, password=password,
            sslmode="verify-full", sslrootcert=str(postgres_ssl.ca_path),
        )  # fmt: skip

    token = DefaultAzureCredential().get_token(POSTGRES_SCOPE).token
    assert token == first
    conn = login(token)
    with conn.cursor() as cur:
        cur.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (role, True)
    conn.close()

    rotated = identity_env.rotate(POSTGRES_RESOURCE)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        login(first)
    login(rotated).close()


def test_external_service_urls_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_POSTGRES_URL", raising=False)
    assert services.external_postgres_url() is None
    monkeypatch.setenv("TEST_POSTGRES_URL", "postgresql+psycopg2://u@db:5432/x")
    monkeypatch.setenv("TEST_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("TEST_AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")
    assert services.external_postgres_url() == "postgresql+psycopg2://u@db:5432/x"
    assert services.external_redis_url() == "redis://cache:6379/0"
    assert services.external_azurite_connection_string() == "UseDevelopmentStorage=true"


def test_ca_bundle_still_trusts_public_roots(azurite_oauth: Azurite) -> None:
    bundle = Path(str(azurite_oauth.ca_bundle_path)).read_text()
    assert Path(certifi.where()).read_text().strip() in bundle
    assert bundle.count("BEGIN CERTIFICATE") > 100
