"""docs/azure.md, its manual route: every command parses, uses real command groups, asks for no secret and
matches the files. (tests/infra/test_guide.py checks the azd part.)"""

import json
import re
import shlex
from typing import Any

import pytest

from restaurant_shared.settings import Settings
from tests.containers.contract import settings_variables
from tests.containers.images import AZURE_COMPOSE, AZURE_GUIDE, environment, load_yaml

AZ_GROUPS = {
    "group",
    "acr",
    "identity",
    "storage account",
    "storage container-rm",
    "role assignment",
    "ad signed-in-user",
    "postgres flexible-server",
    "account",
    "extension",
    "provider",
    "containerapp",
    "appservice plan",
    "webapp",
    "rest",
}
FORBIDDEN = [
    "--admin-password",
    "--admin-user",
    "--password ",
    "--registry-password",
    "--registry-username",
    "storage account keys",
    "connection-string",
    "acr credential",
    "--admin-enabled true",
    "AccountKey",
    "show-connection-string",
    "keyvault secret",
]
PLACEHOLDER = re.compile(r"<[^<>\n]*(password|secret|key|token)[^<>\n]*>", re.I)


def manual_route() -> str:
    text = AZURE_GUIDE.read_text()
    return text[text.index("\n## Manual route\n") : text.index("\n## Troubleshooting\n")]


def shell_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", manual_route(), re.S)


def command_lines() -> list[str]:
    lines = []
    for block in shell_blocks():
        lines.extend(line for line in block.replace("\\\n", " ").splitlines() if line.strip())
    return lines


def az_commands() -> list[list[str]]:
    commands = []
    for line in command_lines():
        words = shlex.split(line)
        if "az" in words[:1]:
            commands.append(words)
        for inner in re.findall(r"\$\((az [^)]*)\)", line):
            commands.append(shlex.split(inner))
    return commands


def options(words: list[str]) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    current = None
    for word in words:
        if word.startswith("--"):
            current = word
            parsed.setdefault(current, [])
        elif current:
            parsed[current].append(word)
    return parsed


def find(*prefix: str) -> list[list[str]]:
    return [c for c in az_commands() if c[1 : 1 + len(prefix)] == list(prefix)]


def expand(value: str) -> str:
    """Shell variables of section 1 and 3, with their example values."""
    names = {
        "ACR_NAME": "myregistry",
        "STORAGE_ACCOUNT": "myreviewsstorage",
        "PG_SERVER": "myreviews-pg",
        "PG_DB": "reviews",
        "IDENTITY_NAME": "reviews-identity",
        "IDENTITY_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
        "PUBLIC_HOST": "reviews.example.com",
    }
    return re.sub(r"\$(\w+)", lambda m: names.get(m.group(1), m.group(0)), value)


def pairs(values: list[str]) -> dict[str, str]:
    return dict(expand(v).split("=", 1) for v in values)


def test_every_line_is_valid_shell() -> None:
    for line in command_lines():
        shlex.split(line)  # raises on unbalanced quotes


def test_az_commands_use_known_command_groups() -> None:
    assert len(az_commands()) > 30
    for words in az_commands():
        group = " ".join(words[1:3]) if " ".join(words[1:3]) in AZ_GROUPS else words[1]
        assert group in AZ_GROUPS, f"unknown az command group: {' '.join(words[:4])}"
        for option in options(words):
            assert re.fullmatch(r"--[a-z][a-z0-9-]*", option), f"malformed option {option}"


def test_nothing_asks_for_a_password_key_or_connection_string() -> None:
    text = AZURE_GUIDE.read_text()
    for forbidden in FORBIDDEN:
        assert forbidden not in text, forbidden
    assert not PLACEHOLDER.search(text)
    for line in command_lines():
        if "PGPASSWORD" in line:
            assert "az account get-access-token --resource-type oss-rdbms" in line, "only a short-lived token"


def test_storage_account_has_no_public_blobs_and_no_keys() -> None:
    (create,) = find("storage", "account", "create")
    opts = options(create)
    assert opts["--allow-blob-public-access"] == ["false"] and opts["--allow-shared-key-access"] == ["false"]
    names = sorted(options(c)["--name"][0] for c in find("storage", "container-rm", "create"))
    assert names == ["thumbnails", "uploads"]


def test_identity_gets_the_four_roles() -> None:
    roles = {options(c)["--role"][0] for c in find("role", "assignment", "create")}
    assert roles == {
        "AcrPull",
        "Storage Blob Data Contributor",
        "Storage Queue Data Contributor",
        "Storage Blob Delegator",
    }


def test_postgres_uses_entra_only_and_creates_the_principal() -> None:
    (create,) = find("postgres", "flexible-server", "create")
    opts = options(create)
    assert opts["--microsoft-entra-auth"] == ["Enabled"] and opts["--password-auth"] == ["Disabled"]
    assert find("postgres", "flexible-server", "microsoft-entra-admin", "create")
    text = AZURE_GUIDE.read_text()
    assert "pgaadauth_create_principal('$IDENTITY_NAME', false, false)" in text
    assert 'GRANT USAGE, CREATE ON SCHEMA public TO \\"$IDENTITY_NAME\\"' in text


def test_images_built_are_the_images_deployed() -> None:
    built = {options(c)["--image"][0]: options(c)["--file"][0] for c in find("acr", "build")}
    assert built == {
        "restaurant-web:latest": "services/web/Dockerfile",
        "restaurant-worker:latest": "services/worker/Dockerfile",
    }
    compose = load_yaml(AZURE_COMPOSE)["services"]
    assert {s["image"].split("/", 1)[1] for s in compose.values()} == set(built)


def test_compose_create_uses_the_rendered_azure_file_without_registry_credentials() -> None:
    (create,) = find("containerapp", "compose", "create")
    opts = options(create)
    assert opts["--compose-file-path"] == ["compose.azure.deploy.yml"]
    assert not any(option.startswith("--registry") for option in opts), "compose create would prompt for them"
    (sed,) = [line for line in command_lines() if line.startswith("sed ")]
    words = shlex.split(sed)
    assert words[-3:] == ["compose.azure.yml", ">", "compose.azure.deploy.yml"]
    replaced = [expression.split("/")[1] for expression in words[1:-3] if expression != "-e"]
    text = AZURE_COMPOSE.read_text()
    for placeholder in replaced:
        assert placeholder in text, f"sed replaces {placeholder}, which compose.azure.yml does not contain"
    for placeholder in (
        "myregistry",
        "myreviewsstorage",
        "myreviews-pg",
        "reviews-identity",
        "00000000-0000-0000-0000-000000000000",
    ):
        assert placeholder in replaced


def test_both_apps_get_the_identity_and_pull_with_it() -> None:
    assigned = {
        options(c)["--name"][0]
        for c in find("containerapp", "identity", "assign")
        if options(c)["--user-assigned"] == ["$IDENTITY_ID"]
    }
    registries = {
        options(c)["--name"][0]
        for c in find("containerapp", "registry", "set")
        if options(c)["--identity"] == ["$IDENTITY_ID"]
    }
    assert assigned == registries == {"web", "worker"}


def test_worker_keeps_a_replica_and_scales_on_queue_length_with_the_identity() -> None:
    (update,) = [c for c in find("containerapp", "update") if options(c)["--name"] == ["worker"]]
    opts = options(update)
    assert int(opts["--min-replicas"][0]) >= 1
    assert opts["--scale-rule-type"] == ["azure-queue"] and opts["--scale-rule-identity"] == ["$IDENTITY_ID"]
    metadata = pairs(opts["--scale-rule-metadata"])
    from restaurant_shared.taskqueue import celery_config

    queue = celery_config(
        Settings(
            postgres_host="h",
            postgres_db="d",
            postgres_user="u",
            postgres_password="p",
            azure_storage_account_url="https://a",
            celery_broker_url="redis://r",
        )
    )
    assert metadata["queueName"] == queue["task_default_queue"]
    assert metadata["accountName"] == "myreviewsstorage"


def test_migration_job_runs_the_web_images_migrate_with_a_valid_configuration() -> None:
    (job,) = find("containerapp", "job", "create")
    opts = options(job)
    assert opts["--command"] == ["migrate"] and opts["--image"] == ["$ACR_NAME.azurecr.io/restaurant-web:latest"]
    assert opts["--mi-user-assigned"] == ["$IDENTITY_ID"] and opts["--registry-identity"] == ["$IDENTITY_ID"]
    env = pairs(opts["--env-vars"])
    assert set(env) <= settings_variables()
    settings = Settings(**{k.lower(): v for k, v in env.items()})
    assert settings.postgres_auth == "entra" and settings.uses_identity_for_storage
    assert find("containerapp", "job", "start")


def test_app_service_uses_main_container_and_sidecar_with_the_identity() -> None:
    text = AZURE_GUIDE.read_text()
    assert "31 March 2027" in text and "cannot use a managed identity" in text
    bodies: dict[str, Any] = {}
    for words in find("rest"):
        opts = options(words)
        name = opts["--url"][0].split("/sitecontainers/")[1].split("?")[0]
        bodies[name] = json.loads(expand(opts["--body"][0]))["properties"]
    assert bodies["web"]["isMain"] is True and bodies["web"]["targetPort"] == "8080"
    assert bodies["worker"]["isMain"] is False
    for body in bodies.values():
        assert body["authType"] == "UserAssigned" and body["inheritAppSettingsAndConnectionStrings"] is True
        assert body["userManagedIdentityClientId"] == expand("$IDENTITY_CLIENT_ID")
    assert bodies["web"]["image"].endswith("/restaurant-web:latest")
    assert bodies["worker"]["image"].endswith("/restaurant-worker:latest")


def test_app_service_settings_match_the_azure_compose_file() -> None:
    (appsettings,) = find("webapp", "config", "appsettings", "set")
    settings = pairs(options(appsettings)["--settings"])
    compose = load_yaml(AZURE_COMPOSE)["services"]
    expected = {**environment(compose["worker"]), **environment(compose["web"])}
    expected.pop("OTEL_SERVICE_NAME")  # one app for both containers: each takes its own default name
    expected = {
        k: expand(
            v.replace("myregistry", "$ACR_NAME")
            .replace("myreviewsstorage", "$STORAGE_ACCOUNT")
            .replace("myreviews-pg", "$PG_SERVER")
            .replace("reviews-identity", "$IDENTITY_NAME")
            .replace("00000000-0000-0000-0000-000000000000", "$IDENTITY_CLIENT_ID")
        )
        for k, v in expected.items()
    }
    assert settings == expected


@pytest.mark.parametrize(
    "section", ["Resource group", "managed identity", "Storage", "Postgres", "Container Apps", "App Service"]
)
def test_guide_has_a_section_for(section: str) -> None:
    assert re.search(rf"^## .*{section}", AZURE_GUIDE.read_text(), re.M | re.I)
