"""Each image's own commands, parsed from its Dockerfile and run natively against real Postgres, Redis and Azurite.

The virtualenvs come from replaying each Dockerfile's build stage (see images.py), so these also show that what
the images install is enough to run them.
"""

import contextlib
import os
import re
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from restaurant_shared.migrate import alembic_config
from tests.containers.images import LOCAL_COMPOSE, NativeImage, load_yaml
from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.processes import AppProcess
from tests.fixtures.services import free_port, log_tail
from tests.fixtures.stack import AppEnv
from tests.worker import imagefactory


def run_image_command(image: NativeImage, argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 60):
    return subprocess.run(
        image.command(argv), env={**env, **image.env()}, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def wait_for_health(process: AppProcess, url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.alive(), log_tail(process.log_path)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"no /healthz within {timeout} s:\n{log_tail(process.log_path)}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for the image's WORKDIR /app: nothing importable in it, like the image."""
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def web(native_images: dict[str, NativeImage], app_env: AppEnv, workdir: Path) -> Iterator[tuple[AppProcess, str]]:
    image = native_images["web"]
    port = free_port()
    env = {**app_env.process_env(PORT=str(port), WEB_CONCURRENCY="2"), **image.env()}
    process = AppProcess("image-web", image.command(image.dockerfile.cmd()), env, workdir)
    process.start()
    url = f"http://127.0.0.1:{port}"
    wait_for_health(process, url)
    yield process, url
    process.stop()


def test_web_cmd_starts_and_stops_without_errors_as_the_images_user(
    native_images: dict[str, NativeImage], app_env: AppEnv, image_root: Path, tmp_path: Path
) -> None:
    """The image runs as its numeric USER with HOME=/app, which root owns: nothing may need to write there.

    Here the same: the image's user (when the tests run as root) and a home nobody may write to.
    """
    image = native_images["web"]
    home = Path(tempfile.mkdtemp(dir=image_root))
    home.chmod(0o555)
    user = image.dockerfile.uid_gid() if os.geteuid() == 0 else None
    port = free_port()
    env = {**app_env.process_env(PORT=str(port), WEB_CONCURRENCY="2", HOME=str(home)), **image.env()}
    process = AppProcess("image-web-unprivileged", image.command(image.dockerfile.cmd()), env, tmp_path, user=user)
    process.start()
    try:
        wait_for_health(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while process.log().count("Application startup complete") < 2:
            assert process.alive() and time.monotonic() < deadline, log_tail(process.log_path)
            time.sleep(0.1)
        # What it logged before it was asked to stop (cutting at the master's "Handling signal" line instead
        # misses a worker that, signalled too, logs its shutdown first).
        start = process.log()
    finally:
        process.stop()
    log = process.log()
    assert log.count("Booting worker") == 2 and "Listening at" in log, log[-2000:]
    start_errors = [line for line in start.splitlines() if re.search(r"error|denied|traceback", line, re.I)]
    assert not start_errors, "\n".join(start_errors)
    # On stop, each uvicorn worker's listener is closed twice (uvicorn, then gunicorn): an INFO line, harmless.
    problems = [line for line in log.splitlines() if re.search(r"\[(WARNING|ERROR|CRITICAL)\]|Traceback", line)]
    assert not problems, "\n".join(problems)
    assert not list(home.iterdir())


def test_web_cmd_serves_health_and_readiness(web: tuple[AppProcess, str]) -> None:
    _, url = web
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    ready = httpx.get(f"{url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text


def test_web_cmd_uses_the_gunicorn_config(web: tuple[AppProcess, str]) -> None:
    process, _ = web
    log = process.log()
    assert "uvicorn_worker.UvicornWorker" in log or "Booting worker" in log, log[-2000:]
    assert log.count("Booting worker") == 2, "WEB_CONCURRENCY=2 should give two workers"


def test_web_healthcheck_passes_while_serving_and_fails_without_a_server(
    native_images: dict[str, NativeImage], web: tuple[AppProcess, str], app_env: AppEnv, workdir: Path
) -> None:
    image = native_images["web"]
    port = web[1].rsplit(":", 1)[1]
    check = image.dockerfile.healthcheck()
    assert run_image_command(image, check, app_env.process_env(PORT=port), workdir).returncode == 0
    closed = run_image_command(image, check, app_env.process_env(PORT=str(free_port())), workdir, timeout=10)
    assert closed.returncode != 0


def test_worker_cmd_makes_thumbnails_for_an_upload_and_answers_its_healthcheck(
    native_images: dict[str, NativeImage],
    web: tuple[AppProcess, str],
    app_env: AppEnv,
    workdir: Path,
    clean_state: None,
) -> None:
    image = native_images["worker"]
    env = {**app_env.process_env(WORKER_CONCURRENCY="1"), **image.env()}
    worker = AppProcess("image-worker", image.command(image.dockerfile.cmd()), env, workdir)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while " ready." not in worker.log():
            assert worker.alive() and time.monotonic() < deadline, log_tail(worker.log_path)
            time.sleep(0.1)
        _, url = web
        photo_ids = post_review(url, create_restaurant(url, "Image Bistro"), [("p.jpg", imagefactory.jpeg(800, 600))])
        (result,) = wait_for_photos(url, photo_ids, timeout=30).values()
        assert result["status"] == "ready"
        # Docker sets HOSTNAME, other engines need not (or set something else): the check must not depend on it.
        healthcheck = image.dockerfile.healthcheck()
        for environment in (app_env.process_env(), app_env.process_env(HOSTNAME="not-this-host")):
            assert "HOSTNAME" not in environment or environment["HOSTNAME"] != socket.gethostname()
            check = run_image_command(image, healthcheck, environment, workdir)
            assert check.returncode == 0, check.stdout + check.stderr
    finally:
        worker.stop()
    stopped = run_image_command(image, healthcheck, app_env.process_env(), workdir)
    assert stopped.returncode != 0, "healthy with no worker running"


@pytest.fixture
def empty_database(app_env: AppEnv) -> Iterator[str]:
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    admin = make_url(AppEnv.database_url(app_env.settings())).set(database="postgres")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield name
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def test_compose_migrate_command_brings_an_empty_database_to_head(
    native_images: dict[str, NativeImage], app_env: AppEnv, empty_database: str, workdir: Path
) -> None:
    command = load_yaml(LOCAL_COMPOSE)["services"]["migrate"]["command"]
    image = native_images["web"]
    env = app_env.with_(POSTGRES_DB=empty_database)
    result = run_image_command(image, command, env.process_env(), workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    engine = create_engine(AppEnv.database_url(env.settings()))
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert {"restaurant", "review", "photo"} <= tables
    again = run_image_command(image, command, env.process_env(), workdir)
    assert again.returncode == 0, "running the one-off twice must be harmless"
