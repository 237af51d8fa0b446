"""The azd hooks, run against a scripted ARM (tests/infra/fake_arm.py) and a real Postgres.

Azure cannot run here: ARM is replaced by a loopback server answering as the documented APIs do, and Azure's
`pgaadauth_create_principal` by a stand-in function that creates a login role, as Azure's does. Everything
else is the hooks' real code and SQL, and the app's real migrations running as the role the hook set up.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from infra.hooks import appservice_release, check_hosting, postgres_role, run_migration
from infra.hooks.arm import Arm, ArmError
from tests.fixtures.services import PostgresServer, external_postgres_url
from tests.fixtures.stack import REPO_ROOT
from tests.infra.fake_arm import FakeArm, fake_arm

JOB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/jobs/caj-migrate"
SITE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app-1"


@pytest.fixture
def arm() -> Iterator[FakeArm]:
    with fake_arm() as server:
        yield server


def client(server: FakeArm) -> Arm:
    return Arm(lambda: "token-1", base_url=server.url, poll_seconds=0.01)


def execution(status: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return 200, {"name": "exec-1", "properties": {"status": status}}, {}


def test_migration_starts_the_job_and_waits_until_it_succeeds(arm: FakeArm) -> None:
    arm.answer("POST", f"{JOB}/start", (202, {"name": "exec-1", "id": f"{JOB}/executions/exec-1"}, {}))
    arm.answer("GET", f"{JOB}/executions/exec-1", execution("Running"), execution("Running"), execution("Succeeded"))
    assert run_migration.run_migration(client(arm), JOB, timeout=10) == "exec-1"
    assert len(arm.calls("GET", f"{JOB}/executions/exec-1")) == 3
    start = arm.calls("POST", f"{JOB}/start")[0]
    assert start.authorization == "Bearer token-1" and start.query["api-version"] == ["2025-01-01"]


@pytest.mark.parametrize("status", ["Failed", "Stopped", "Degraded"])
def test_a_failed_migration_raises(arm: FakeArm, status: str) -> None:
    arm.answer("POST", f"{JOB}/start", (202, {"name": "exec-1"}, {}))
    arm.answer("GET", f"{JOB}/executions/exec-1", execution("Running"), execution(status))
    with pytest.raises(run_migration.MigrationFailed, match=status):
        run_migration.run_migration(client(arm), JOB, timeout=10)


def test_a_migration_that_never_ends_times_out(arm: FakeArm) -> None:
    arm.answer("POST", f"{JOB}/start", (202, {"name": "exec-1"}, {}))
    arm.answer("GET", f"{JOB}/executions/exec-1", execution("Running"))
    with pytest.raises(run_migration.MigrationFailed, match="still Running"):
        run_migration.run_migration(client(arm), JOB, timeout=0.2)


def test_a_bare_202_is_followed_to_the_execution_name(arm: FakeArm) -> None:
    arm.answer("POST", f"{JOB}/start", (202, None, {"Location": "{base}/operations/op-1"}))
    arm.answer("GET", "/operations/op-1", (202, None, {}), (200, {"name": "exec-2"}, {}))
    arm.answer("GET", f"{JOB}/executions/exec-2", execution("Succeeded"))
    assert run_migration.run_migration(client(arm), JOB, timeout=10) == "exec-2"


def test_the_hook_exits_non_zero_when_the_migration_fails(arm: FakeArm, monkeypatch: pytest.MonkeyPatch) -> None:
    """azd stops the deploy on a non-zero exit (continueOnError: false), before web and worker."""
    arm.answer("POST", f"{JOB}/start", (202, {"name": "exec-1"}, {}))
    arm.answer("GET", f"{JOB}/executions/exec-1", execution("Failed"))
    monkeypatch.setattr(run_migration, "signed_in_arm", lambda: client(arm))
    for name, value in {
        "AZURE_SUBSCRIPTION_ID": "s",
        "AZURE_RESOURCE_GROUP": "rg",
        "MIGRATION_JOB_NAME": "caj-migrate",
    }.items():
        monkeypatch.setenv(name, value)
    assert run_migration.main() == 1
    arm.answer("GET", f"{JOB}/executions/exec-1", execution("Succeeded"))
    assert run_migration.main() == 0


def test_arm_errors_carry_the_code_and_message_but_not_the_token(arm: FakeArm) -> None:
    arm.answer("POST", f"{JOB}/start", (403, {"error": {"code": "AuthorizationFailed", "message": "no"}}, {}))
    with pytest.raises(ArmError, match="AuthorizationFailed: no") as raised:
        run_migration.run_migration(client(arm), JOB, timeout=1)
    assert "token-1" not in str(raised.value)


def test_long_running_operations_are_followed_until_they_end(arm: FakeArm) -> None:
    rule = "/rules/r1"
    arm.answer("PUT", rule, (201, {}, {"Azure-AsyncOperation": "{base}/ops/1"}))
    arm.answer("GET", "/ops/1", (200, {"status": "InProgress"}, {}), (200, {"status": "Succeeded"}, {}))
    client(arm).put_and_wait(rule, "2024-08-01", {"properties": {}})
    assert len(arm.calls("GET", "/ops/1")) == 2
    arm.answer("GET", "/ops/1", (200, {"status": "Failed", "error": {"code": "Conflict", "message": "busy"}}, {}))
    with pytest.raises(ArmError, match="Failed"):
        client(arm).put_and_wait(rule, "2024-08-01", {"properties": {}})


def test_app_service_release_points_each_container_at_its_image_and_restarts(arm: FakeArm) -> None:
    web = {"image": "old-web", "isMain": True, "targetPort": "8080", "authType": "UserAssigned"}
    worker = {"image": "old-worker", "isMain": False, "authType": "UserAssigned"}
    arm.answer("GET", f"{SITE}/sitecontainers/web", (200, {"properties": web}, {}))
    arm.answer("GET", f"{SITE}/sitecontainers/worker", (200, {"properties": worker}, {}))
    arm.answer("PUT", f"{SITE}/sitecontainers/web", (200, {}, {}))
    arm.answer("PUT", f"{SITE}/sitecontainers/worker", (200, {}, {}))
    arm.answer("POST", f"{SITE}/restart", (200, None, {}))
    appservice_release.release(client(arm), SITE, "cr.io/web:2", "cr.io/worker:2")
    (put_web,) = arm.calls("PUT", f"{SITE}/sitecontainers/web")
    (put_worker,) = arm.calls("PUT", f"{SITE}/sitecontainers/worker")
    assert put_web.body == {"properties": {**web, "image": "cr.io/web:2"}}, "keeps every other property"
    assert put_worker.body == {"properties": {**worker, "image": "cr.io/worker:2"}}
    assert len(arm.calls("POST", f"{SITE}/restart")) == 1
    assert [s.method for s in arm.seen][-1] == "POST", "restart after both images are set"


def test_app_service_release_does_nothing_on_container_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTING", "containerapps")
    monkeypatch.setattr(appservice_release, "signed_in_arm", lambda: pytest.fail("must not call Azure"))
    assert appservice_release.main() == 0


def test_worker_image_lives_in_the_registry_azd_pushes_to() -> None:
    name = appservice_release.worker_image_name("cr1.azurecr.io", "dev", 1700000000)
    assert name == "cr1.azurecr.io/restaurant-reviews/worker-dev:azd-deploy-1700000000"
    assert (REPO_ROOT / appservice_release.WORKER_DOCKERFILE).exists()


@pytest.mark.parametrize(
    ("hosting", "use_container_apps", "ok"),
    [("containerapps", "true", True), ("appservice", "false", True), ("appservice", "true", False),
     ("containerapps", "false", False), ("aks", "false", False)],
)  # fmt: skip
def test_hosting_and_the_service_condition_must_agree(hosting: str, use_container_apps: str, ok: bool) -> None:
    assert (check_hosting.problem(hosting, use_container_apps) is None) is ok


def test_hooks_run_as_modules_from_the_repository_root() -> None:
    for hook in ("run_migration", "postgres_role", "appservice_release", "check_hosting"):
        result = subprocess.run(
            [sys.executable, "-c", f"import infra.hooks.{hook}"], cwd=REPO_ROOT, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr


# --- Postgres: the identity's role, created as the Entra administrator would -----------------------------

STAND_IN = """
CREATE OR REPLACE FUNCTION pgaadauth_create_principal(name text, is_admin boolean, is_mfa boolean)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  EXECUTE format('CREATE ROLE %I LOGIN', name);
  RETURN 'Created role for ' || name;
END $$;
"""


@pytest.fixture
def azure_like_server(postgres: PostgresServer | None) -> Iterator[tuple[URL, str]]:
    """Roles as Azure has them: an azure_pg_admin group owning the app database, an administrator in it."""
    admin = make_url(external_postgres_url() or postgres.admin_dsn())  # type: ignore[union-attr]
    database = "reviews_hook"
    engine = create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    roles = ("deployer", "id-reviews", "id-ungranted")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        for role in roles:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = 'azure_pg_admin'")).scalar():
            conn.execute(text("CREATE ROLE azure_pg_admin NOLOGIN"))
        conn.execute(text("CREATE ROLE deployer LOGIN CREATEROLE PASSWORD 'entra-token' IN ROLE azure_pg_admin"))
        conn.execute(text(f'CREATE DATABASE "{database}" OWNER azure_pg_admin'))
        conn.execute(text(STAND_IN))
    yield admin, database
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        for role in roles:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    engine.dispose()


def connector(admin: URL, user: str) -> postgres_role.Connect:
    import psycopg2

    def connect(dbname: str) -> Any:
        return psycopg2.connect(
            host=admin.host, port=admin.port, dbname=dbname, user=user, password="entra-token", sslmode="disable"
        )

    return connect


def migrate_as(admin: URL, role: str, database: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "POSTGRES_HOST": admin.host or "127.0.0.1",
        "POSTGRES_PORT": str(admin.port or 5432),
        "POSTGRES_DB": database,
        "POSTGRES_USER": role,
        "POSTGRES_PASSWORD": "entra-token",
        "POSTGRES_SSLMODE": "disable",
        "AZURE_STORAGE_ACCOUNT_URL": "https://unused.blob.core.windows.net",
        "CELERY_BROKER_URL": "redis://unused",
    }
    env.pop("AZURE_STORAGE_CONNECTION_STRING", None)
    return subprocess.run(
        [sys.executable, "-m", "restaurant_shared.migrate", "upgrade", "head"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_role_it_creates_can_run_the_migrations_and_owns_what_they_create(
    azure_like_server: tuple[URL, str],
) -> None:
    admin, database = azure_like_server
    postgres_role.set_up_role(connector(admin, "deployer"), "id-reviews", database)
    result = migrate_as(admin, "id-reviews", database)
    assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(admin.set(database=database))
    with engine.connect() as conn:
        owners = set(conn.execute(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")).scalars())
        assert owners == {"id-reviews"}
        assert conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).scalar() == 1
        role = conn.execute(
            text("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'id-reviews'")
        ).one()
        assert tuple(role) == (False, False, False), "the identity gets no administrative power"
    engine.dispose()


def test_running_it_again_changes_nothing(azure_like_server: tuple[URL, str]) -> None:
    admin, database = azure_like_server
    connect = connector(admin, "deployer")
    assert postgres_role.create_principal(connect, "id-reviews") is True
    postgres_role.set_up_role(connect, "id-reviews", database)
    assert postgres_role.create_principal(connect, "id-reviews") is False


def test_without_the_grants_the_migrations_cannot_run(azure_like_server: tuple[URL, str]) -> None:
    """The grants are needed (PostgreSQL 15+ gives PUBLIC no CREATE on schema public), so they are tested."""
    admin, database = azure_like_server
    assert postgres_role.create_principal(connector(admin, "deployer"), "id-ungranted")
    result = migrate_as(admin, "id-ungranted", database)
    assert result.returncode != 0
    assert "permission denied" in result.stderr
