"""The GitHub workflows: actionlint-clean, CI runs the README's test command, deploy signs in without secrets."""

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.containers.images import load_yaml
from tests.fixtures.stack import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github/workflows"
README = REPO_ROOT / "README.md"


def tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    assert Path(found).exists(), f"{name} missing: it comes with the dev dependencies (uv sync)"
    return found


def workflow(name: str) -> dict[str, Any]:
    data = load_yaml(WORKFLOWS / name)
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def steps(data: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return list(data["jobs"][job]["steps"])


CONTROL = """on: push
jobs:
  control:
    runs-on: ubuntu-24.04
    steps:
      - run: cd $HOME/some dir
"""


def actionlint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-shellcheck", tool("shellcheck"), *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_actionlint_finds_nothing() -> None:
    result = actionlint("-verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 0 errors in 2 files" in result.stderr
    assert 'Rule "shellcheck" was disabled' not in result.stderr


def test_actionlint_runs_shellcheck_on_run_steps(tmp_path: Path) -> None:
    control = tmp_path / "control.yml"
    control.write_text(CONTROL)
    result = actionlint(str(control))
    assert result.returncode == 1 and "shellcheck reported issue" in result.stdout, result.stdout


def test_ci_runs_the_test_command_the_readme_names() -> None:
    readme = README.read_text()
    assert "```sh\nscripts/test\n```" in readme and re.search(r"CI runs exactly this command\s+\(`\.ci/run`\)", readme)
    run_steps = [step["run"] for step in steps(workflow("ci.yml"), "test") if "run" in step]
    assert run_steps == ["bash .ci/run"]
    assert "exec scripts/test" in (REPO_ROOT / ".ci/run").read_text()
    assert workflow("ci.yml")["jobs"]["test"]["timeout-minutes"] <= 90


def test_deploy_uses_oidc_and_no_secret() -> None:
    data = workflow("deploy.yml")
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert data["permissions"] == {"contents": "read", "id-token": "write"}
    assert "secrets." not in text and not re.search(r"client[-_]secret|password", text, re.I)
    login = [step["run"] for step in steps(data, "deploy") if "azd auth login" in step.get("run", "")]
    assert len(login) == 1 and "--federated-credential-provider github" in login[0]
    assert "--client-secret" not in login[0]
    assert any(step.get("run") == "azd up --no-prompt" for step in steps(data, "deploy"))
    assert any(step.get("uses", "").startswith("Azure/setup-azd@") for step in steps(data, "deploy"))
    env = data["jobs"]["deploy"]["env"]
    assert env["AZURE_PRINCIPAL_TYPE"] == "ServicePrincipal", "the pipeline becomes the Postgres administrator"


def test_deploy_compiles_every_bicep_file_first() -> None:
    data = workflow("deploy.yml")
    assert data["jobs"]["deploy"]["needs"] == "bicep"
    (build,) = [step["run"] for step in steps(data, "bicep") if "az bicep build" in step.get("run", "")]
    assert "infra/main.bicep infra/modules/*.bicep" in build and "az bicep install" in build


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_actions_are_pinned_to_a_major_version(name: str) -> None:
    for job in workflow(name)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]
