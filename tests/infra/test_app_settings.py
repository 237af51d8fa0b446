"""The app settings the templates give each process: Settings fields only, every required one, keyless.

The same contract as compose.azure.yml (tests/containers): nothing set that the app does not read, nothing
required left out, a valid identity configuration, and the same names compose.azure.yml sets.
"""

from typing import Any

import pytest

from restaurant_shared.settings import Settings
from tests.containers.contract import SECRET_NAME, SECRET_VALUE, settings_variables, web_reads, worker_reads
from tests.containers.images import AZURE_COMPOSE, AZURE_GUIDE, environment, load_yaml
from tests.infra.bicep import Reference, loop_source, main, module

READS = {"web": web_reads, "worker": worker_reads, "migrate": worker_reads}
# The settings variable of main.bicep that each process receives.
SETTINGS_VARIABLE = {"web": "webSettings", "worker": "workerSettings", "migrate": "migrateSettings"}


def settings_of(process: str) -> dict[str, Any]:
    return dict(main().resolve(SETTINGS_VARIABLE[process]))


def required_variables() -> set[str]:
    return {name.upper() for name, field in Settings.model_fields.items() if field.is_required()}


def as_settings(values: dict[str, Any]) -> Settings:
    return Settings(**{key.lower(): value for key, value in values.items() if key in settings_variables()})


@pytest.mark.parametrize("process", list(SETTINGS_VARIABLE))
def test_sets_nothing_the_process_does_not_read(process: str) -> None:
    assert set(settings_of(process)) <= READS[process]()


@pytest.mark.parametrize("process", list(SETTINGS_VARIABLE))
def test_sets_every_required_setting(process: str) -> None:
    missing = required_variables() - set(settings_of(process))
    assert not missing, f"{process} would not start: {sorted(missing)}"


@pytest.mark.parametrize("process", list(SETTINGS_VARIABLE))
def test_is_a_valid_keyless_identity_configuration(process: str) -> None:
    values = settings_of(process)
    settings = as_settings(values)
    assert settings.postgres_auth == "entra" and settings.postgres_sslmode == "require"
    assert settings.postgres_password is None and settings.uses_identity_for_storage
    assert settings.photo_delivery == "sas"
    assert values["POSTGRES_USER"] == "identity.outputs.name", "Postgres role = the identity's name"
    assert values["AZURE_CLIENT_ID"] == "identity.outputs.clientId"
    assert values["AZURE_STORAGE_ACCOUNT_URL"] == "storage.outputs.blobEndpoint"
    assert values["POSTGRES_HOST"] == "postgres.outputs.host"
    broker = values["CELERY_BROKER_URL"]
    assert broker == "azurestoragequeues://DefaultAzureCredential@${storage.outputs.queueEndpoint}"


@pytest.mark.parametrize("process", list(SETTINGS_VARIABLE))
def test_holds_no_secret(process: str) -> None:
    for key, value in settings_of(process).items():
        assert not SECRET_NAME.search(key), key
        assert isinstance(value, str) and not SECRET_VALUE.search(value), f"{key} looks like a secret"


def test_storage_endpoints_are_the_accounts_own() -> None:
    outputs = module("storage").outputs
    assert outputs["blobEndpoint"]["value"] == "https://${account.name}.blob.${environment().suffixes.storage}"
    assert outputs["queueEndpoint"]["value"] == "https://${account.name}.queue.${environment().suffixes.storage}"


@pytest.mark.parametrize("process", ["web", "worker"])
def test_names_match_compose_azure_yml(process: str) -> None:
    compose = environment(load_yaml(AZURE_COMPOSE)["services"][process])
    # The telemetry destination differs per deployment; the manual route sets it after creating the apps.
    assert set(settings_of(process)) - {"APPLICATIONINSIGHTS_CONNECTION_STRING"} == set(compose)
    literal = {k: v for k, v in settings_of(process).items() if not isinstance(v, Reference) and "${" not in v}
    literal.pop("PHOTO_DELIVERY")  # a parameter here, whose default compose.azure.yml shows
    literal.pop("PUBLIC_BASE_URL")  # a parameter: the deployment's own domain, or empty for the platform's host name
    assert literal == {k: compose[k] for k in literal}


def test_migration_gets_the_workers_application_settings() -> None:
    worker = settings_of("worker")
    worker.pop("WORKER_CONCURRENCY")
    worker.pop("OTEL_SERVICE_NAME")  # the migration sends no telemetry
    assert settings_of("migrate") == worker


def test_web_and_worker_report_under_their_own_service_names() -> None:
    assert settings_of("web")["OTEL_SERVICE_NAME"] == "restaurant-web"
    assert settings_of("worker")["OTEL_SERVICE_NAME"] == "restaurant-worker"
    assert (
        settings_of("web")["APPLICATIONINSIGHTS_CONNECTION_STRING"]
        == settings_of("worker")["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    )


def test_every_setting_is_set_or_explained_in_the_guide() -> None:
    here = set().union(*(settings_of(p) for p in SETTINGS_VARIABLE))
    guide = AZURE_GUIDE.read_text()
    unexplained = {name for name in settings_variables() - here if f"`{name}`" not in guide}
    assert not unexplained, f"neither in the templates nor in docs/azure.md: {sorted(unexplained)}"


def test_container_apps_receive_their_own_list() -> None:
    apps = module("containerapps")
    params = main().module_params("containerApps")
    for symbol, process in (("webApp", "web"), ("workerApp", "worker"), ("migrationJob", "migrate")):
        (container,) = apps.resource(symbol).properties["template"]["containers"]
        source = loop_source(container["env"])
        assert params[source] == SETTINGS_VARIABLE[process], f"{symbol} gets {params[source]}"
        assert set(container) >= {"name", "image", "env"} and "secretRef" not in str(container)


def test_app_service_gives_both_containers_web_and_worker_settings() -> None:
    site = module("appservice").resource("site")
    assert loop_source(site.properties["siteConfig"]["appSettings"]) == "settings"
    given = main().resolve(main().module_params("appService")["settings"])
    # Both containers get every setting; the service name is left to each one's default.
    assert set(given) == (set(settings_of("web")) | set(settings_of("worker"))) - {"OTEL_SERVICE_NAME"}
    assert set(given) <= web_reads() | worker_reads()
