"""docs/azure.md, its azd part: it leads with azd up, says what it asks, costs and how to tear down, and its
commands, variables and claims match azure.yaml, the workflows and the templates."""

import re
import shlex

from tests.containers.images import AZURE_GUIDE, load_yaml
from tests.fixtures.stack import REPO_ROOT
from tests.infra.bicep import main

# azd commands this guide may use (azd 1.23).
AZD_COMMANDS = {"auth login", "auth token", "up", "down", "deploy", "provision", "env set", "env get-values",
                "hooks run", "version"}  # fmt: skip
README = REPO_ROOT / "README.md"


def azd_part() -> str:
    text = AZURE_GUIDE.read_text()
    return text[: text.index("\n## Manual route\n")]


def bash_lines(text: str) -> list[str]:
    return [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines() if line]


def test_leads_with_azd_auth_login_and_azd_up() -> None:
    text = AZURE_GUIDE.read_text()
    first_heading = re.search(r"^## (.*)$", text, re.M)
    assert first_heading and "azd up" in first_heading.group(1)
    assert bash_lines(text)[0] == "azd auth login && azd up"


def test_sections_in_order_azd_then_manual_then_troubleshooting() -> None:
    headings = re.findall(r"^## (.*)$", AZURE_GUIDE.read_text(), re.M)
    order = [headings.index(h) for h in ("One command: azd up", "Manual route", "Troubleshooting")]
    assert order == sorted(order)


def test_says_what_it_asks_what_it_costs_and_how_to_tear_down() -> None:
    text = azd_part()
    assert "**What it asks**" in text and "**What it costs**" in text and "**Tear down**" in text
    assert "azd down --purge" in bash_lines(text)


def test_every_azd_command_is_a_real_one() -> None:
    text = AZURE_GUIDE.read_text()
    used = re.findall(r"`(azd [a-z][a-z -]*?)(?: [A-Z<$-].*?)?`", text) + [
        part.strip() for line in bash_lines(text) for part in line.split("&&") if part.strip().startswith("azd ")
    ]
    assert used
    for command in used:
        words = shlex.split(command)[1:]
        assert " ".join(words[:2]) in AZD_COMMANDS or words[0] in AZD_COMMANDS, command


def test_app_service_commands_set_both_variables_the_preprovision_hook_checks() -> None:
    lines = bash_lines(azd_part())
    assert "azd env set HOSTING appservice" in lines and "azd env set USE_CONTAINER_APPS false" in lines
    assert "the worker scales with the\napp, not with the queue" in azd_part()


def test_github_setup_uses_a_federated_credential_and_no_secret() -> None:
    text = azd_part()
    lines = bash_lines(text[text.index("## Deploy from GitHub Actions") :])
    assert any("az ad app federated-credential create" in line for line in lines)
    assert not any(re.search(r"credential reset|--password|client-secret|--sdk-auth", line) for line in lines)
    subject = re.search(r'"subject": "repo:[^:]+:environment:(\w+)"', text)
    deploy = load_yaml(REPO_ROOT / ".github/workflows/deploy.yml")
    assert subject and deploy["jobs"]["deploy"]["environment"] == subject.group(1)


def test_documents_every_variable_the_deploy_workflow_reads() -> None:
    workflow = (REPO_ROOT / ".github/workflows/deploy.yml").read_text()
    for name in set(re.findall(r"vars\.(\w+)", workflow)):
        assert f"`{name}`" in azd_part(), name


def test_names_the_roles_the_templates_assign() -> None:
    text = azd_part()
    for role in ("AcrPull", "Storage Blob Data Contributor", "Storage Queue Data Contributor",
                 "Storage Blob Delegator", "Monitoring Metrics Publisher"):  # fmt: skip
        assert role in text, role


def test_outputs_it_names_exist() -> None:
    for name in re.findall(r"`([A-Z][A-Z_]+)` in `azd env get-values`|\(`([A-Z][A-Z_]+)` in", azd_part()):
        for output in filter(None, name):
            assert output in main().outputs, output
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in main().outputs


def test_troubleshooting_covers_token_scopes_the_postgres_principal_and_keda() -> None:
    text = AZURE_GUIDE.read_text()
    trouble = text[text.index("\n## Troubleshooting\n") : text.index("\n## Settings in Azure\n")]
    for topic in ("**Token scopes.**", "**The Postgres principal.**", "**KEDA and the identity.**"):
        assert topic in trouble
    from infra.hooks.arm import MANAGEMENT_SCOPE
    from restaurant_shared.identity import POSTGRES_SCOPE, STORAGE_SCOPE

    for scope in (POSTGRES_SCOPE, STORAGE_SCOPE, MANAGEMENT_SCOPE):
        assert f"`{scope}`" in trouble


def test_readme_deploy_section_points_to_the_guide() -> None:
    readme = README.read_text()
    section = readme[readme.index("## Deploy to Azure") :]
    section = section[: section.index("\n## ", 1)]
    assert "docs/azure.md" in section and "azd up" in section
