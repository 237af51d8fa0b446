"""The identity path piece by piece: Postgres token refresh, SAS limits, and clear failures."""

import ssl
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg2
import pytest
from psycopg2 import sql
from sqlalchemy import text

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.db import create_db_engine
from restaurant_shared.identity import POSTGRES_SCOPE, get_credential
from tests.fixtures.identity_emulator import POSTGRES_RESOURCE, Identity, ManagedIdentityEmulator
from tests.fixtures.processes import WebProcess
from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import AppEnv

SHORT_LIVED = Identity(
    client_id="22222222-3333-4444-5555-666666666666",
    principal_id="bbbbbbbb-cccc-dddd-eeee-ffffffffffff",
    tenant_id="72f988bf-0000-4000-8000-000000000001",
    name="short-lived-identity",
)


@pytest.fixture
def in_azure_mode(identity_env: AppEnv, monkeypatch: pytest.MonkeyPatch) -> AppEnv:
    """This test process takes the services' environment, so azure-identity reads the emulator's."""
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID", "AZURE_TOKEN_CREDENTIALS",
                 "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):  # fmt: skip
        monkeypatch.setenv(name, identity_env[name])
    return identity_env


@pytest.fixture
def short_lived_tokens(emulator: ManagedIdentityEmulator, postgres_entra: PostgresServer) -> Iterator[Identity]:
    """A second identity whose Postgres tokens live just over azure-identity's 5-minute refresh margin,
    so its credential asks for a new token within seconds, as it would near the end of an hour."""
    emulator.identities.append(SHORT_LIVED)
    lifetime, emulator.lifetime = emulator.lifetime, 303

    def follow(resource: str, client_id: str, token: str) -> None:
        if resource == POSTGRES_RESOURCE and client_id == SHORT_LIVED.client_id:
            postgres_entra.create_login_role(SHORT_LIVED.name, token)

    emulator.on_token_issued.append(follow)
    emulator.token_for(POSTGRES_RESOURCE, SHORT_LIVED.client_id)
    postgres_entra.execute(
        sql.SQL("GRANT CONNECT ON DATABASE reviews_identity TO {}").format(sql.Identifier(SHORT_LIVED.name))
    )
    yield SHORT_LIVED
    emulator.on_token_issued.remove(follow)
    emulator.lifetime = lifetime
    emulator.identities.remove(SHORT_LIVED)


def test_new_connections_after_the_token_expires_still_succeed(
    in_azure_mode: AppEnv, emulator: ManagedIdentityEmulator, postgres_entra: PostgresServer,
    short_lived_tokens: Identity,
) -> None:  # fmt: skip
    """The Flask reference sample reads one token at start-up and breaks when it expires; the engine
    asks the credential on every new connection instead."""
    settings = in_azure_mode.settings(
        AZURE_CLIENT_ID=short_lived_tokens.client_id, POSTGRES_USER=short_lived_tokens.name
    )
    engine = create_db_engine(settings)
    token_at_start_up = get_credential(settings).get_token(POSTGRES_SCOPE).token
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == short_lived_tokens.name

    time.sleep(4)  # now less than 5 minutes are left: the credential will ask for a new token
    new_token = emulator.rotate(POSTGRES_RESOURCE, short_lived_tokens.client_id)  # the old one stops working
    assert new_token != token_at_start_up
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host=settings.postgres_host, port=settings.postgres_port, dbname=settings.postgres_db,
            user=settings.postgres_user, password=token_at_start_up, sslmode="require", connect_timeout=5,
        )  # fmt: skip
    engine.dispose()  # drop pooled connections: the next checkout opens a new one
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == short_lived_tokens.name
    asked = [r for r in emulator.requests_for(POSTGRES_RESOURCE) if r.client_id == short_lived_tokens.client_id]
    assert len(asked) >= 2
    engine.dispose()


def test_sas_url_is_read_only_for_one_blob_and_expires(in_azure_mode: AppEnv, ca_bundle: Path) -> None:
    store = BlobStore.from_settings(in_azure_mode.settings(), retry_total=0)
    store.ensure_containers()
    store.put_thumbnail("sas-test/320.webp", b"first blob")
    store.put_thumbnail("sas-test/1280.webp", b"second blob")
    url = store.thumbnail_sas_url("sas-test/320.webp", timedelta(seconds=3))
    base, query = url.split("?", 1)
    assert "skoid=" in query and "sp=r&" in query  # user-delegation SAS, read permission only
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_bundle)), timeout=10) as client:
        assert client.get(url).content == b"first blob"
        write = client.put(url, content=b"overwrite", headers={"x-ms-blob-type": "BlockBlob"})
        assert write.status_code == 403
        assert client.delete(url).status_code == 403
        other = base.replace("/320.webp", "/1280.webp") + "?" + query
        assert client.get(other).status_code == 403
        time.sleep(4)
        assert client.get(url).status_code == 403
    assert b"".join(store.open_thumbnail("sas-test/320.webp")) == b"first blob"


@pytest.mark.parametrize("fault", ["wrong client id", "wrong audience", "expired token"])
def test_identity_faults_give_a_clear_readiness_error_naming_each_resource(
    identity_env: AppEnv, emulator: ManagedIdentityEmulator, tmp_path: Path, fault: str
) -> None:
    extra = {"AZURE_CLIENT_ID": "99999999-0000-0000-0000-000000000000"} if fault == "wrong client id" else {}
    web = WebProcess(identity_env, tmp_path, workers=1, extra_env=extra)
    emulator.audience_override = "https://management.azure.com" if fault == "wrong audience" else None
    emulator.expired_mode = fault == "expired token"
    try:
        web.start(timeout=90)
        started = time.monotonic()
        response = httpx.get(f"{web.url}/readyz", timeout=60)
        elapsed = time.monotonic() - started
    finally:
        emulator.audience_override = None
        emulator.expired_mode = False
        web.stop()
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert set(checks) == {"postgres", "blob", "broker"}
    for resource, result in checks.items():
        assert result.startswith("unavailable: "), (resource, result)
        assert len(result) > len("unavailable: ") + 5
    assert elapsed < 35, f"readiness took {elapsed:.0f} s: a hang, not an answer"
    assert emulator.token_for(POSTGRES_RESOURCE)  # the emulator is healthy again for other tests
