"""Real services for the whole test session: Postgres, Redis and Azurite, started here and stopped after.

Set TEST_POSTGRES_URL (a superuser URL), TEST_REDIS_URL or TEST_AZURE_STORAGE_CONNECTION_STRING to use
running services instead; tests that stop and restart a service need the ones started here.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.fixtures.services import (
    Azurite,
    PostgresServer,
    RedisServer,
    external_azurite_connection_string,
    external_postgres_url,
    external_redis_url,
)
from tests.fixtures.stack import AppEnv, migrate, recreate_database, reset_state

TEST_DATABASE = "reviews_test"


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer | None]:
    if external_postgres_url():
        yield None
        return
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer | None]:
    if external_redis_url():
        yield None
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite | None]:
    if external_azurite_connection_string():
        yield None
        return
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_env(postgres: PostgresServer | None, redis_server: RedisServer | None, azurite: Azurite | None) -> AppEnv:
    """The environment of the local-development mode: Postgres password, Redis broker, Azurite key."""
    admin_url = make_url(external_postgres_url() or postgres.admin_dsn())  # type: ignore[union-attr]
    env = AppEnv(
        {
            "POSTGRES_HOST": admin_url.host or "127.0.0.1",
            "POSTGRES_PORT": str(admin_url.port or 5432),
            "POSTGRES_DB": TEST_DATABASE,
            "POSTGRES_USER": admin_url.username or "postgres",
            "POSTGRES_PASSWORD": admin_url.password or "postgres",
            "POSTGRES_SSLMODE": "disable",
            "AZURE_STORAGE_CONNECTION_STRING": external_azurite_connection_string() or azurite.connection_string,  # type: ignore[union-attr]
            "CELERY_BROKER_URL": external_redis_url() or redis_server.url,  # type: ignore[union-attr]
            "MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
            "SWEEP_INTERVAL_SECONDS": "1",
            "STUCK_PHOTO_AFTER_SECONDS": "3",
            "LOG_LEVEL": "INFO",
        }
    )
    env = recreate_database(env, TEST_DATABASE)
    migrate(env, "upgrade", "head")
    return env


@pytest.fixture(scope="session")
def settings(app_env: AppEnv) -> Settings:
    return app_env.settings()


@pytest.fixture(scope="session")
def blob_store(settings: Settings) -> BlobStore:
    store = BlobStore.from_settings(settings)
    store.ensure_containers()
    return store


@pytest.fixture
def clean_state(settings: Settings, blob_store: BlobStore) -> Iterator[None]:
    """Empty tables, containers and queue before a test, so its counts are its own."""
    reset_state(settings, blob_store)
    yield


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
