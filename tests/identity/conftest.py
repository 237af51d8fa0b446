"""The Azure mode without Azure: the managed-identity emulator, Azurite with OAuth over HTTPS, and a
Postgres role whose password is the emulator's token (as Azure Database for PostgreSQL checks Entra
tokens). Web and worker get only what they would get in Azure: URLs, a client id, the identity endpoint.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.identity_emulator import POSTGRES_RESOURCE, ManagedIdentityEmulator
from tests.fixtures.services import Azurite, PostgresServer
from tests.fixtures.stack import AppEnv, migrate

IDENTITY_DATABASE = "reviews_identity"


@pytest.fixture(scope="session")
def emulator() -> Iterator[ManagedIdentityEmulator]:
    server = ManagedIdentityEmulator()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(tmp_path_factory.mktemp("azurite-oauth"), https=True, oauth=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_entra(
    tmp_path_factory: pytest.TempPathFactory, emulator: ManagedIdentityEmulator
) -> Iterator[PostgresServer]:
    """A TLS-only Postgres where the identity's role logs in with its current Entra token."""
    server = PostgresServer(tmp_path_factory.mktemp("postgres-entra"), ssl=True)
    server.start()
    role = emulator.default_identity.name

    def follow_token(resource: str, client_id: str, token: str) -> None:
        # Azure's Postgres accepts only valid tokens for its own audience: wrong-audience and expired
        # tokens (the emulator's negative modes) never become the role's password.
        if emulator.audience_override or emulator.expired_mode:
            return
        if resource == POSTGRES_RESOURCE and client_id == emulator.default_identity.client_id:
            server.create_login_role(role, token)

    emulator.on_token_issued.append(follow_token)
    server.create_login_role(role, emulator.token_for(POSTGRES_RESOURCE))
    server.create_database(IDENTITY_DATABASE, owner=role)
    yield server
    emulator.on_token_issued.remove(follow_token)
    server.stop()


@pytest.fixture(scope="session")
def ca_bundle(azurite_oauth: Azurite) -> Path:
    assert azurite_oauth.ca_bundle_path is not None
    return azurite_oauth.ca_bundle_path


@pytest.fixture(scope="session")
def identity_env(
    emulator: ManagedIdentityEmulator, azurite_oauth: Azurite, postgres_entra: PostgresServer, ca_bundle: Path
) -> AppEnv:
    """Exactly what compose.azure.yml gives the services, pointed at the emulated Azure."""
    env = AppEnv(
        {
            "POSTGRES_HOST": postgres_entra.host,
            "POSTGRES_PORT": str(postgres_entra.port),
            "POSTGRES_DB": IDENTITY_DATABASE,
            "POSTGRES_USER": emulator.default_identity.name,
            "POSTGRES_SSLMODE": "require",
            "POSTGRES_AUTH": "entra",
            "AZURE_STORAGE_ACCOUNT_URL": azurite_oauth.blob_url,
            "CELERY_BROKER_URL": f"azurestoragequeues://DefaultAzureCredential@{azurite_oauth.queue_url}",
            "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
            "SWEEP_INTERVAL_SECONDS": "1",
            "STUCK_PHOTO_AFTER_SECONDS": "5",
            **emulator.env(),
            # The emulated storage's certificate is self-signed: trust it (plus the usual CAs).
            "REQUESTS_CA_BUNDLE": str(ca_bundle),
            "SSL_CERT_FILE": str(ca_bundle),
        }
    )
    migrate(env, "upgrade", "head")
    return env
