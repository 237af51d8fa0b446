"""The migration step waits for a database that is not up yet, for a bounded time, and says so.

It runs once (compose `migrate` with restart "no", a Container Apps job): failing on the first refused
connection would leave web and worker waiting for it forever.
"""

import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.fixtures.services import PostgresServer, free_port
from tests.fixtures.stack import REPO_ROOT, AppEnv


def migrate_env(port: int, database: str = "postgres") -> AppEnv:
    """Only Postgres matters to the migration; storage and broker values just have to be valid settings."""
    return AppEnv(
        {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(port),
            "POSTGRES_DB": database,
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "unused-with-trust",
            "POSTGRES_SSLMODE": "disable",
            "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        }
    )


def start_migrate(env: AppEnv, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "restaurant_shared.migrate", *args],
        env=env.process_env(),
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_migrate_waits_for_a_database_that_starts_late(tmp_path: Path) -> None:
    server = PostgresServer(tmp_path)
    # A database only this server will have: should another test session's server take the free port
    # meanwhile, migrate keeps waiting instead of migrating that one.
    database = f"late_{uuid.uuid4().hex[:12]}"
    migrate = start_migrate(migrate_env(server.port, database), "upgrade", "head")
    try:
        # Start the server only once migrate has been refused at least once (its start-up alone can take
        # seconds on a fresh checkout, where nothing is compiled yet).
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not any("not accepting connections yet" in line for line in seen):
            assert time.monotonic() < deadline and migrate.poll() is None, "".join(seen)
            assert migrate.stdout is not None
            seen.append(migrate.stdout.readline())
        server.start()
        server.create_database(database)
        rest, _ = migrate.communicate(timeout=60)
        output = "".join(seen) + rest
        assert migrate.returncode == 0, output
        conn = server.connect(database)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM alembic_version")
            assert cur.fetchone() == (1,)
        conn.close()
    finally:
        if migrate.poll() is None:
            migrate.kill()
        server.stop()
    retries = [line for line in output.splitlines() if "not accepting connections yet" in line]
    assert retries and f"127.0.0.1:{server.port}" in retries[0], output


def test_migrate_gives_up_after_its_bound_with_a_clear_message() -> None:
    started = time.monotonic()
    migrate = start_migrate(migrate_env(free_port()), "--wait", "2", "upgrade", "head")
    output, _ = migrate.communicate(timeout=30)
    elapsed = time.monotonic() - started
    assert migrate.returncode == 1, output
    assert 2 <= elapsed < 10, f"took {elapsed:.1f} s for a 2 s bound"
    assert "did not accept connections within 2 s" in output, output
    assert len([line for line in output.splitlines() if "not accepting connections yet" in line]) >= 2, output
