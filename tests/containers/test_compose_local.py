"""docker-compose.yml: `docker compose up` alone gives a working product at http://localhost:8000."""

import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from restaurant_shared.migrate import DEFAULT_WAIT_SECONDS
from restaurant_shared.settings import Settings
from tests.containers.contract import gunicorn_variables, settings_variables, web_reads, worker_reads
from tests.containers.images import LOCAL_COMPOSE, WEB_DOCKERFILE, WORKER_DOCKERFILE, Dockerfile, environment, load_yaml
from tests.fixtures.services import Azurite, PostgresServer, _pg_bin_dir
from tests.fixtures.stack import REPO_ROOT

LONG_RUNNING = ("postgres", "redis", "azurite", "web", "worker")
APP_SERVICES = ("migrate", "web", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(LOCAL_COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


def test_docker_compose_config_accepts_the_file() -> None:
    """Debian's docker-compose (v1, apt package docker-compose) checks schema and interpolation, no engine needed."""
    binary = shutil.which("docker-compose")
    assert binary, "install the Debian package docker-compose (apt-get install -y docker-compose)"
    result = subprocess.run(
        [binary, "-f", str(LOCAL_COMPOSE), "config", "--quiet"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr


def test_has_the_products_services(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", "azurite", "migrate", "web", "worker"}


def test_backing_services_use_official_pinned_images_and_named_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["azurite"]["image"] == "mcr.microsoft.com/azure-storage/azurite:3.37.0"
    for name, mount in (("postgres", "/var/lib/postgresql/data"), ("azurite", "/data")):
        volume = next(v for v in services[name]["volumes"] if v.endswith(f":{mount}"))
        assert volume.split(":")[0] in compose["volumes"], f"{name} should keep its data in a named volume"


def test_azurite_listens_on_all_interfaces_and_accepts_current_sdks(services: dict[str, Any]) -> None:
    command = services["azurite"]["command"]
    for flag, value in (("--blobHost", "0.0.0.0"), ("--queueHost", "0.0.0.0"), ("--location", "/data")):
        assert command[command.index(flag) + 1] == value
    assert "--skipApiVersionCheck" in command and "--loose" in command


def depends_on(services: dict[str, Any], name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    direct = set(services[name].get("depends_on") or [])
    return direct.union(*(depends_on(services, other) for other in direct))


def test_each_image_is_built_once_from_the_repository_dockerfiles(services: dict[str, Any]) -> None:
    assert services["migrate"]["image"] == services["web"]["image"], "migrate runs in the web image"
    for image, dockerfile in (
        (services["web"]["image"], WEB_DOCKERFILE),
        (services["worker"]["image"], WORKER_DOCKERFILE),
    ):
        users = [name for name, service in services.items() if service.get("image") == image]
        builders = [name for name in users if "build" in services[name]]
        assert len(builders) == 1, f"{image} is built by {builders}: once is enough"
        (builder,) = builders
        build = services[builder]["build"]
        assert (REPO_ROOT / build["context"]).resolve() == REPO_ROOT
        assert REPO_ROOT / build["dockerfile"] == dockerfile
        # docker-compose v1 builds or pulls each service's image in start order: a service that only names the
        # image must start after its builder, or v1 tries to pull it from a registry.
        for name in users:
            assert name == builder or builder in depends_on(services, name), f"{name} may start before {builder}"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    dockerfiles = {"web": WEB_DOCKERFILE, "worker": WORKER_DOCKERFILE}
    for name in LONG_RUNNING:
        declared = services[name].get("healthcheck", {})
        assert not declared.get("disable"), name
        has_check = bool(declared.get("test")) or (
            name in dockerfiles and Dockerfile.parse(dockerfiles[name]).healthcheck()
        )
        assert has_check, f"{name} has no healthcheck, so depends_on cannot wait for it"


def test_migrate_is_a_one_off_after_postgres_is_healthy(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"
    assert migrate["healthcheck"] == {"disable": True}, "the web image's HEALTHCHECK means nothing for a one-off"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_app_waits_for_migrations_and_healthy_backing_services(services: dict[str, Any], name: str) -> None:
    assert services[name]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "azurite": {"condition": "service_healthy"},
    }


def test_web_is_published_on_8000(services: dict[str, Any]) -> None:
    assert services["web"]["ports"] == ["8000:8000"]
    assert environment(services["web"])["PORT"] == "8000"
    assert "ports" not in services["worker"]


def seconds(duration: str) -> float:
    """A compose duration ("35s", "1m30s", "500ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"not a compose duration: {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def test_web_stop_grace_period_outlasts_gunicorns_graceful_timeout(services: dict[str, Any]) -> None:
    """Docker's default 10 s would SIGKILL uploads that gunicorn, after SIGTERM, still gives 30 s to finish."""
    config = runpy.run_path(str(REPO_ROOT / "services/web/gunicorn.conf.py"))
    grace = seconds(services["web"]["stop_grace_period"])
    # The arbiter needs a moment after the graceful timeout to reap its workers and exit on its own.
    assert grace >= config["graceful_timeout"] + 5, (grace, config["graceful_timeout"])
    assert config["graceful_timeout"] >= 30, "in-flight uploads get at least gunicorn's usual 30 s"


def test_readme_states_the_stop_grace_and_the_migrate_wait(services: dict[str, Any]) -> None:
    readme = (REPO_ROOT / "README.md").read_text().replace("\n", " ")
    config = runpy.run_path(str(REPO_ROOT / "services/web/gunicorn.conf.py"))
    assert f"web gets {seconds(services['web']['stop_grace_period']):g} s" in readme
    assert f"finish for {config['graceful_timeout']:g} s" in readme
    assert f"`migrate` waits up to {DEFAULT_WAIT_SECONDS:g} s" in readme


@pytest.mark.parametrize("name", APP_SERVICES)
def test_sets_every_setting_the_app_reads(services: dict[str, Any], name: str) -> None:
    missing = settings_variables() - set(environment(services[name]))
    assert not missing, f"{name} lacks {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_sets_nothing_the_app_does_not_read(services: dict[str, Any], name: str) -> None:
    reads = web_reads() if name == "web" else worker_reads()
    unread = set(environment(services[name])) - reads
    assert not unread, f"{name} sets {sorted(unread)}, which nothing reads"


def test_web_sets_the_process_server_variables(services: dict[str, Any]) -> None:
    assert gunicorn_variables() == {"PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}
    assert gunicorn_variables() <= set(environment(services["web"]))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_environment_is_a_valid_configuration(services: dict[str, Any], name: str) -> None:
    values = {key: str(value) for key, value in environment(services[name]).items()}
    settings = Settings(**{key.lower(): value for key, value in values.items() if key in settings_variables()})
    assert settings.postgres_host == "postgres" and settings.celery_broker_url.startswith("redis://redis:")
    assert not settings.uses_identity_for_storage and settings.azure_client_id is None
    connection_string = settings.azure_storage_connection_string
    assert (
        connection_string is not None and "BlobEndpoint=http://azurite:10000/" in connection_string.get_secret_value()
    )


def test_app_credentials_match_the_local_postgres_container(services: dict[str, Any]) -> None:
    app = environment(services["web"])
    db = environment(services["postgres"])
    assert (db["POSTGRES_USER"], db["POSTGRES_DB"], db["POSTGRES_PASSWORD"]) == (
        app["POSTGRES_USER"],
        app["POSTGRES_DB"],
        app["POSTGRES_PASSWORD"],
    )
    assert set(db) <= {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD", "PGDATA", "POSTGRES_INITDB_ARGS"}
    healthcheck = " ".join(services["postgres"]["healthcheck"]["test"])
    assert f"--username={db['POSTGRES_USER']}" in healthcheck and f"--dbname={db['POSTGRES_DB']}" in healthcheck


def test_only_the_public_azurite_key_and_a_local_password_are_in_the_file(services: dict[str, Any]) -> None:
    app = environment(services["web"])
    assert "AccountName=devstoreaccount1;" in app["AZURE_STORAGE_CONNECTION_STRING"]
    assert "${" not in LOCAL_COMPOSE.read_text(), "`docker compose up` must need no .env or exported variables"


def test_postgres_healthcheck_runs_against_a_real_server(
    services: dict[str, Any], postgres: PostgresServer | None, app_env: dict[str, str]
) -> None:
    test = services["postgres"]["healthcheck"]["test"]
    assert test[0] == "CMD"
    command = [str(_pg_bin_dir() / test[1]), *test[2:]]
    env = {"PGHOST": app_env["POSTGRES_HOST"], "PGPORT": app_env["POSTGRES_PORT"], "PATH": "/usr/bin:/bin"}
    assert subprocess.run(command, env=env, capture_output=True, timeout=10).returncode == 0
    closed = {**env, "PGPORT": "1"}
    assert subprocess.run(command, env=closed, capture_output=True, timeout=10).returncode != 0


def test_postgres_healthcheck_fails_while_the_server_accepts_no_tcp(services: dict[str, Any], tmp_path: Path) -> None:
    """On first boot the official image runs a temporary server on its Unix socket only; migrate uses TCP.

    PGHOST names that socket's folder here, standing in for the image's default socket location.
    """
    test = services["postgres"]["healthcheck"]["test"]
    command = [str(_pg_bin_dir() / test[1]), *test[2:]]
    server = PostgresServer(tmp_path)
    socket_dir = server.start_without_tcp()
    try:
        env = {"PGHOST": str(socket_dir), "PGPORT": str(server.port), "PATH": "/usr/bin:/bin"}
        assert subprocess.run(command, env=env, capture_output=True, timeout=10).returncode != 0, (
            "healthy before Postgres accepts TCP connections"
        )
        server.stop()
        server.start()
        assert subprocess.run(command, env=env, capture_output=True, timeout=10).returncode == 0
    finally:
        server.stop()


@pytest.mark.parametrize("name", ["postgres", "redis", "azurite"])
def test_healthcheck_survives_engines_that_split_it_at_spaces(services: dict[str, Any], name: str) -> None:
    """Some engines (podman 4.3 behind the Docker API) join an exec-form test and split it again at spaces.

    An exec-form test must then come out the same; anything needing spaces in one argument is CMD-SHELL, whose
    single string every engine hands to `sh -c` whole.
    """
    kind, *argv = services[name]["healthcheck"]["test"]
    if kind == "CMD-SHELL":
        assert len(argv) == 1, "CMD-SHELL takes one string"
    else:
        assert kind == "CMD" and " ".join(argv).split() == argv, f"{name}: an argument holds a space: {argv}"


def test_azurite_healthcheck_runs_against_a_real_azurite(services: dict[str, Any], azurite: Azurite | None) -> None:
    if azurite is None:
        pytest.skip("needs the Azurite started by the test session (its ports)")
    kind, script = services["azurite"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL" and script.startswith("node ")
    mapped = script.replace("10000", str(azurite.blob_port)).replace("10001", str(azurite.queue_port))
    assert subprocess.run(["sh", "-c", mapped], capture_output=True, timeout=10).returncode == 0
    one_closed = script.replace("10000", str(azurite.blob_port)).replace("10001", "1")
    assert subprocess.run(["sh", "-c", one_closed], capture_output=True, timeout=10).returncode != 0


def test_migrate_command_is_the_web_images_migrate(services: dict[str, Any]) -> None:
    web = Dockerfile.parse(WEB_DOCKERFILE)
    (command,) = services["migrate"]["command"]
    assert Path(web.context_files()[f"/app/.venv/bin/{command}"]) == REPO_ROOT / "scripts/migrate.sh"
