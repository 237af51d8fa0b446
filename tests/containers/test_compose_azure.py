"""compose.azure.yml: valid input for `az containerapp compose create` and within App Service's compose limits."""

import os
from typing import Any

import pytest
import yaml
from pycomposefile import ComposeFile

from restaurant_shared.settings import Settings
from tests.containers.contract import SECRET_NAME, SECRET_VALUE, settings_variables, web_reads, worker_reads
from tests.containers.images import AZURE_COMPOSE, AZURE_GUIDE, environment, load_yaml

# What `az containerapp compose create` warns about and ignores (azure-cli containerapp _compose_utils.py).
UNSUPPORTED = [
    "build",
    "volumes",
    "volumes_from",
    "env_file",
    "secrets",
    "networks",
    "network_mode",
    "healthcheck",
    "profiles",
    "blkio_config",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cap_add",
    "cap_drop",
    "configs",
    "devices",
    "dns",
    "extra_hosts",
    "hostname",
    "init",
    "links",
    "logging",
    "mem_limit",
    "privileged",
    "read_only",
    "restart",
    "security_opt",
    "stop_grace_period",
    "stop_signal",
    "sysctls",
    "tmpfs",
    "user",
    "working_dir",
    "depends_on",
    "expose",
]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_yaml(AZURE_COMPOSE)


@pytest.fixture(scope="module")
def services(raw: dict[str, Any]) -> dict[str, Any]:
    return dict(raw["services"])


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> ComposeFile:
    """What Azure's CLI sees: yaml.safe_load + pycomposefile, here with an empty environment to interpolate from."""
    for key in list(os.environ):
        monkeypatch.delenv(key)
    return ComposeFile(yaml.safe_load(AZURE_COMPOSE.read_text()))


def test_pycomposefile_loads_both_services_unchanged(parsed: ComposeFile, services: dict[str, Any]) -> None:
    assert list(parsed.services) == ["web", "worker"]
    for name, service in parsed.services.items():
        assert service.image == services[name]["image"]
        assert dict(service.environment) == environment(services[name]), "interpolation changed a value"


def test_web_gets_external_ingress_on_8080_and_worker_none(parsed: ComposeFile) -> None:
    web, worker = parsed.services["web"], parsed.services["worker"]
    assert len(web.ports) == 1, "more than one port makes the CLI prompt"
    assert int(web.ports[0].target) == 8080 and int(web.ports[0].published) == 8080
    assert worker.ports is None and worker.expose is None


def test_worker_has_exactly_one_replica_at_creation(parsed: ComposeFile, services: dict[str, Any]) -> None:
    assert parsed.services["worker"].deploy.replicas == 1
    assert services["worker"]["deploy"] == {"replicas": 1}


def test_first_key_is_version() -> None:
    assert next(iter(yaml.safe_load(AZURE_COMPOSE.read_text()))) == "version"


def test_only_web_and_worker(raw: dict[str, Any]) -> None:
    assert set(raw) == {"version", "services"}
    assert set(raw["services"]) == {"web", "worker"}


def test_under_4000_characters() -> None:
    assert len(AZURE_COMPOSE.read_text()) < 4000


def test_images_come_from_the_registry(services: dict[str, Any]) -> None:
    assert services["web"]["image"] == "myregistry.azurecr.io/restaurant-web:latest"
    assert services["worker"]["image"] == "myregistry.azurecr.io/restaurant-worker:latest"


def test_web_port_is_quoted_8080(services: dict[str, Any]) -> None:
    assert services["web"]["ports"] == ["8080:8080"]
    assert '- "8080:8080"' in AZURE_COMPOSE.read_text()
    assert environment(services["web"])["PORT"] == "8080"


@pytest.mark.parametrize("key", UNSUPPORTED)
def test_uses_no_unsupported_key(services: dict[str, Any], key: str) -> None:
    for name, service in services.items():
        assert key not in service, f"{name}: {key} is ignored or rejected by Azure"


def test_has_no_interpolation() -> None:
    assert "$" not in AZURE_COMPOSE.read_text(), "pycomposefile replaces even $NAME without braces"


def test_has_no_empty_values(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            assert isinstance(value, str) and value.strip(), f"{name}.{key}: empty values make the CLI prompt"


def test_has_no_secret_values(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in environment(service).items():
            assert not SECRET_NAME.search(key), f"{name}.{key}"
            assert not SECRET_VALUE.search(value), f"{name}.{key} looks like a secret"
        broker = environment(service)["CELERY_BROKER_URL"]
        assert broker.split("://", 1)[1].split("@", 1)[0] == "DefaultAzureCredential", "keyless broker only"


@pytest.mark.parametrize("name", ["web", "worker"])
def test_environment_is_a_valid_identity_configuration(services: dict[str, Any], name: str) -> None:
    values = {k.lower(): v for k, v in environment(services[name]).items() if k in settings_variables()}
    settings = Settings(**values)
    assert settings.uses_identity_for_storage and settings.postgres_password is None
    assert settings.postgres_auth == "entra" and settings.postgres_sslmode == "require"
    assert settings.azure_client_id and settings.celery_broker_url.startswith("azurestoragequeues://")
    assert settings.photo_delivery == "sas"


def test_web_and_worker_share_their_application_settings(services: dict[str, Any]) -> None:
    process_only = {"PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "WORKER_CONCURRENCY", "OTEL_SERVICE_NAME"}
    process_only |= {"AUTH_MODE", "MODERATOR_ROLE"}  # moderation lives in web
    web = {k: v for k, v in environment(services["web"]).items() if k not in process_only}
    worker = {k: v for k, v in environment(services["worker"]).items() if k not in process_only}
    assert web == worker


def test_sets_nothing_the_app_does_not_read(services: dict[str, Any]) -> None:
    assert set(environment(services["web"])) <= web_reads()
    assert set(environment(services["worker"])) <= worker_reads()


def test_every_setting_is_set_here_or_explained_in_the_guide(services: dict[str, Any]) -> None:
    guide = AZURE_GUIDE.read_text()
    here = set(environment(services["web"])) | set(environment(services["worker"]))
    unexplained = {name for name in settings_variables() - here if f"`{name}`" not in guide}
    assert not unexplained, f"neither in compose.azure.yml nor in docs/azure.md: {sorted(unexplained)}"
