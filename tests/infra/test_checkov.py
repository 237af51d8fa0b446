"""checkov scans every Bicep file: no failed check, no parse error, and every skip explained where it is.

checkov exits 0 even when it cannot parse a file (it just scans fewer resources), so the test counts parse
errors and resources itself. Two control files in the same run show that this run can fail at all: one
insecure storage account (checkov must flag it) and one broken file (checkov must report a parse error).
checkov lives in its own environment (tools/checkov: its pins clash with the app's), synced by scripts/test.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.stack import REPO_ROOT
from tests.infra.bicep import INFRA, bicep_files

CHECKOV = REPO_ROOT / "tools/checkov/.venv/bin/checkov"
SKIP_COMMENT = re.compile(r"//\s*checkov:skip=(CKV2?_\w+):\s*(\S.*)$", re.M)
INSECURE = """resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'control'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowBlobPublicAccess: true
    minimumTlsVersion: 'TLS1_0'
  }
}
"""
BROKEN = "resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  properties: {{\n}\n"


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    assert CHECKOV.exists(), "checkov is missing: scripts/test installs it (uv sync --project tools/checkov)"
    root = tmp_path_factory.mktemp("checkov")
    shutil.copytree(INFRA, root / "infra", ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.json"))
    (root / "controls").mkdir()
    (root / "controls/insecure.bicep").write_text(INSECURE)
    (root / "controls/broken.bicep").write_text(BROKEN)
    result = subprocess.run(
        [str(CHECKOV), "--directory", str(root), "--framework", "bicep", "--skip-download", "--compact",
         "--output", "json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    assert report["check_type"] == "bicep"
    return dict(report)


def failed(scan: dict[str, Any], folder: str) -> list[str]:
    return [
        f"{c['check_id']} {c['file_path']} {c['resource']}: {c['check_name']}"
        for c in scan["results"].get("failed_checks", [])
        if c["file_path"].startswith(f"/{folder}/")
    ]


def test_no_failed_check_in_the_templates(scan: dict[str, Any]) -> None:
    assert failed(scan, "infra") == []
    assert scan["summary"]["passed"] >= 20


def test_the_run_catches_an_insecure_template(scan: dict[str, Any]) -> None:
    flagged = failed(scan, "controls")
    assert any(line.startswith("CKV_AZURE_44 ") for line in flagged), flagged  # TLS 1.0


def test_every_template_was_parsed(scan: dict[str, Any]) -> None:
    assert scan["summary"]["parsing_errors"] == 1, "only the broken control file may fail to parse"
    results = scan["results"]
    checked = {c["file_path"] for kind in ("passed_checks", "failed_checks", "skipped_checks") for c in results[kind]}
    # checkov 3.3 has Bicep/ARM checks for storage, registry and App Service, none for Postgres flexible
    # servers, Container Apps or Application Insights: test_resources.py asserts what matters there.
    with_rules = {f"/infra/modules/{name}.bicep" for name in ("storage", "registry", "appservice")}
    assert with_rules <= checked, f"checkov checked nothing in {sorted(with_rules - checked)}"


def test_every_skip_is_justified_in_place_and_used(scan: dict[str, Any]) -> None:
    written: set[tuple[str, str]] = set()
    for path in bicep_files():
        text = path.read_text()
        assert text.count("checkov:skip") == len(SKIP_COMMENT.findall(text)), f"{path.name}: skip without reason"
        for check, reason in SKIP_COMMENT.findall(text):
            assert len(reason) > 30, f"{path.name} {check}: say why"
            written.add((check, f"/infra/{Path(path).relative_to(INFRA).as_posix()}"))
    skipped = {(c["check_id"], c["file_path"]) for c in scan["results"].get("skipped_checks", [])}
    assert skipped == written
