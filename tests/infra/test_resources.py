"""What the templates create: the security properties the issue asks for, read from the parsed Bicep."""

import re

from fastapi.routing import APIRoute

from restaurant_shared.settings import Settings
from restaurant_shared.taskqueue import celery_config
from restaurant_web.routes import health
from tests.containers.images import REPO_ROOT, Dockerfile
from tests.infra.bicep import Reference, accessor_path, bicep_files, equals_operands, equals_ternary, main, module

ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a": "Storage Blob Delegator",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
FORBIDDEN_IN_TEMPLATES = [
    "@secure()",
    "listKeys(",
    "listAccountSas(",
    "listServiceSas(",
    "listCredentials(",
    "primarySharedKey",
    "administratorLoginPassword",
    "passwordSecretRef",
    "secretRef",
    "AccountKey=",
    "SharedAccessSignature",
]


def served_paths() -> set[str]:
    return {route.path for route in health.router.routes if isinstance(route, APIRoute)}


def task_queue_consumed() -> str:
    settings = Settings(
        postgres_host="h",
        postgres_db="d",
        postgres_user="u",
        postgres_password="p",
        azure_storage_account_url="https://a",
        celery_broker_url="redis://r",
    )
    return str(celery_config(settings)["task_default_queue"])


def role_assignments() -> list[tuple[str, str, str, object]]:
    """(module, role name, scope symbol, condition) of every role assignment in every template."""
    found = []
    for path in bicep_files():
        template = module(path.stem) if path.parent.name == "modules" else main()
        for assignment in template.resources("Microsoft.Authorization/roleAssignments"):
            properties = assignment.properties
            assert properties["principalId"] == "identityPrincipalId", "roles go to the app's identity only"
            assert properties["principalType"] == "ServicePrincipal"
            definition = properties["roleDefinitionId"]["function"]
            assert definition["type"] == "subscription_resource_id", "built-in roles only"
            assert definition["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
            role_id = template.resolve(definition["parameters"]["resource_name_1"])
            assert "scope" in assignment.config, f"{path.name} {assignment.symbol}: no scope means the resource group"
            found.append((path.stem, ROLES.get(str(role_id), str(role_id)), assignment.config["scope"],
                          assignment.condition))  # fmt: skip
    return found


def test_every_template_parses_and_none_holds_a_secret() -> None:
    assert len(bicep_files()) == 8
    for path in bicep_files():
        text = path.read_text()
        for forbidden in FORBIDDEN_IN_TEMPLATES:
            assert forbidden not in text, f"{path.name}: {forbidden}"
    parameters = (REPO_ROOT / "infra/main.parameters.json").read_text()
    assert not re.search(r"secret|password|key", parameters, re.I)


def test_outputs_hold_no_secret() -> None:
    from tests.containers.contract import SECRET_NAME

    for name in main().outputs:
        if name == "APPLICATIONINSIGHTS_CONNECTION_STRING":
            continue  # names the resource; ingestion needs an Entra token (below)
        assert not SECRET_NAME.search(name), name
    insights = module("monitoring").resource("applicationInsights").properties
    assert insights["DisableLocalAuth"] is True


def test_the_identity_gets_exactly_the_roles_the_code_needs_on_the_narrowest_scopes() -> None:
    assignments = {(role, scope): (name, condition) for name, role, scope, condition in role_assignments()}
    assert set(assignments) == {
        ("AcrPull", "registry"),
        ("Storage Blob Data Contributor", "uploads"),
        ("Storage Blob Data Contributor", "thumbnails"),
        ("Storage Queue Data Contributor", "account"),
        ("Storage Blob Delegator", "account"),
        ("Monitoring Metrics Publisher", "applicationInsights"),
    }
    _, delegation = assignments[("Storage Blob Delegator", "account")]
    assert equals_operands(delegation) == ("photoDelivery", "sas"), "delegation only with PHOTO_DELIVERY=sas"
    unconditional = [key for key, (_, condition) in assignments.items() if key[0] != "Storage Blob Delegator"]
    assert all(assignments[key][1] is None for key in unconditional)


def test_role_scopes_are_the_containers_and_queue_the_app_uses() -> None:
    storage = module("storage")
    assert storage.resource("uploads").config["name"] == "uploadsContainer"
    assert storage.resource("thumbnails").config["name"] == "thumbnailsContainer"
    params = main().module_params("storage")
    web = main().resolve("webSettings")
    assert main().resolve(params["uploadsContainer"]) == web["STORAGE_UPLOADS_CONTAINER"] == "uploads"
    assert main().resolve(params["thumbnailsContainer"]) == web["STORAGE_THUMBNAILS_CONTAINER"] == "thumbnails"
    assert main().resolve(params["taskQueue"]) == task_queue_consumed()


def test_storage_has_no_keys_no_public_blobs_and_tls_12() -> None:
    account = module("storage").resource("account").properties
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2" and account["supportsHttpsTrafficOnly"] is True
    assert account["defaultToOAuthAuthentication"] is True
    for container in ("uploads", "thumbnails"):
        assert module("storage").resource(container).properties["publicAccess"] == "None"
    assert module("storage").resource("queue").config["name"] == "taskQueue"


def test_postgres_is_entra_only_with_the_deployer_as_admin_and_pg_trgm_allowed() -> None:
    postgres = module("postgres")
    server = postgres.resource("server").properties
    assert server["authConfig"]["passwordAuth"] == "Disabled"
    assert server["authConfig"]["activeDirectoryAuth"] == "Enabled"
    assert "administratorLogin" not in server
    admin = postgres.resource("admin")
    assert admin.config["name"] == "adminObjectId" and admin.properties["principalName"] == "adminName"
    params = main().module_params("postgres")
    assert params["adminObjectId"] == "principalId" and params["adminType"] == "principalType"
    extensions = postgres.resource("extensions")
    assert extensions.config["name"] == "azure.extensions"
    from infra.hooks.postgres_role import EXTENSIONS

    allowed = {name.strip().lower() for name in extensions.properties["value"].split(",")}
    assert set(EXTENSIONS) <= allowed


def test_registry_has_no_admin_user_and_no_anonymous_pull() -> None:
    registry = module("registry").resource("registry").properties
    assert registry["adminUserEnabled"] is False and registry["anonymousPullEnabled"] is False


def test_monitoring_takes_no_keys() -> None:
    monitoring = module("monitoring")
    assert monitoring.resource("logAnalytics").properties["features"]["disableLocalAuth"] is True
    assert monitoring.resource("applicationInsights").properties["DisableLocalAuth"] is True
    environment = module("containerapps").resource("appEnvironment").properties
    assert environment["appLogsConfiguration"] == {"destination": "azure-monitor"}, "no workspace key"


def test_container_apps_use_the_identity_for_everything() -> None:
    apps = module("containerapps")
    registries = apps.resolve("registries")
    assert registries == [{"server": "registryServer", "identity": "identityId"}]
    identity = apps.resolve("identity")
    assert identity["type"] == "UserAssigned" and list(identity["userAssignedIdentities"]) == ["${identityId}"]
    for symbol in ("webApp", "workerApp", "migrationJob"):
        resource = apps.resource(symbol)
        assert resource.api_version >= "2025-01-01"
        assert resource.config["identity"] == "identity"
        assert resource.properties["configuration"]["registries"] == "registries"
        assert "secrets" not in resource.properties["configuration"]


def test_web_has_external_https_ingress_and_probes_on_paths_it_serves() -> None:
    apps = module("containerapps")
    web = apps.resource("webApp").properties
    ingress = web["configuration"]["ingress"]
    port = apps.resolve(ingress["targetPort"])
    assert ingress["external"] is True and ingress["allowInsecure"] is False
    assert str(port) == main().resolve("webSettings")["PORT"] == "8080"
    (container,) = web["template"]["containers"]
    probes = {probe["type"]: probe["httpGet"] for probe in container["probes"]}
    assert set(probes) == {"Startup", "Liveness", "Readiness"}
    assert {probe["path"] for probe in probes.values()} <= served_paths()
    assert probes["Liveness"]["path"] == probes["Startup"]["path"] == "/healthz", "no dependency in liveness"
    assert probes["Readiness"]["path"] == "/readyz"
    assert all(apps.resolve(probe["port"]) == port for probe in probes.values())
    rules = web["template"]["scale"]["rules"]
    assert [rule["name"] for rule in rules] == ["http-requests"] and "http" in rules[0]


def test_termination_grace_covers_gunicorn_and_the_longest_task() -> None:
    apps = module("containerapps")
    gunicorn = (REPO_ROOT / "services/web/gunicorn.conf.py").read_text()
    graceful = int(re.search(r"^graceful_timeout = (\d+)", gunicorn, re.M).group(1))  # type: ignore[union-attr]
    web = apps.resolve(apps.resource("webApp").properties["template"]["terminationGracePeriodSeconds"])
    worker = apps.resolve(apps.resource("workerApp").properties["template"]["terminationGracePeriodSeconds"])
    assert graceful < web <= 600
    assert 60 <= worker <= 600 and worker > web


def test_worker_has_no_ingress_and_scales_on_the_queue_it_consumes_with_the_identity() -> None:
    apps = module("containerapps")
    worker = apps.resource("workerApp").properties
    assert "ingress" not in worker["configuration"]
    scale = worker["template"]["scale"]
    (rule,) = scale["rules"]
    queue = rule["azureQueue"]
    assert queue["identity"] == "identityId" and "auth" not in queue
    params = main().module_params("containerApps")
    assert main().resolve(params[queue["queueName"]]) == task_queue_consumed()
    assert main().resolve(params[queue["accountName"]]) == Reference("storage.outputs.name")
    # One worker stays up by default (its sweeper is the delivery guarantee); zero is allowed.
    assert main().resolve(main().parameters["workerMinReplicas"]["default"]) == 1
    assert {"type": "min_value", "argument": 0} in main().parameters["workerMinReplicas"]["decorators"]


def test_migration_job_is_manual_and_runs_the_web_images_migrate_command() -> None:
    job = module("containerapps").resource("migrationJob").properties
    assert job["configuration"]["triggerType"] == "Manual"
    assert job["configuration"]["replicaRetryLimit"] == 0
    (container,) = job["template"]["containers"]
    assert container["command"] == ["migrate"]
    web = Dockerfile.parse(REPO_ROOT / "services/web/Dockerfile")
    image_path = web.final.env()["PATH"].split(":")
    script = web.context_files()["/app/.venv/bin/migrate"]
    assert "/app/.venv/bin" in image_path
    assert "restaurant_shared.migrate upgrade head" in script.read_text()


def test_app_service_runs_web_as_main_and_worker_as_sidecar_pulling_with_the_identity() -> None:
    app = module("appservice")
    site = app.resource("site")
    config = site.properties["siteConfig"]
    assert config["linuxFxVersion"] == "SITECONTAINERS"
    assert config["acrUseManagedIdentityCreds"] is True and config["acrUserManagedIdentityID"] == "identityClientId"
    assert config["healthCheckPath"] in served_paths()
    assert config["ftpsState"] == "Disabled" and site.properties["httpsOnly"] is True
    containers = {c.config["name"]: c.properties for c in app.resources("Microsoft.Web/sites/sitecontainers")}
    assert set(containers) == {"web", "worker"}
    assert containers["web"]["isMain"] is True and containers["web"]["targetPort"] == "8080"
    assert containers["worker"]["isMain"] is False and "targetPort" not in containers["worker"]
    for properties in containers.values():
        assert properties["authType"] == "UserAssigned"
        assert properties["userManagedIdentityClientId"] == "identityClientId"
        assert properties["inheritAppSettingsAndConnectionStrings"] is True
    basic_auth = {p.config["name"]: p.properties["allow"] for p in app.resources(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies")}  # fmt: skip
    assert basic_auth == {"ftp": False, "scm": False}


def test_hosting_parameter_chooses_the_host() -> None:
    hosting = main().parameters["hosting"]
    assert hosting["default"] == "containerapps"
    assert {"type": "allowed", "argument": ["containerapps", "appservice"]} in hosting["decorators"]
    assert equals_operands(main().modules["appService"]["config"]["condition"]) == ("hosting", "appservice")
    assert equals_operands(main().module_params("containerApps")["deployApps"]) == ("hosting", "containerapps")


def test_a_provision_keeps_the_deployed_images_and_runs_nothing_before_the_first_deploy() -> None:
    apps = module("containerapps")
    for app, existing, exists in (
        ("webApp", "existingWeb", "webExists"),
        ("workerApp", "existingWorker", "workerExists"),
        ("migrationJob", "existingMigrationJob", "migrateExists"),
    ):
        (container,) = apps.resource(app).properties["template"]["containers"]
        image = apps.variables[container["image"]]["value"]["operator"]["operands"]
        assert image["condition"] == exists and image["false_value"] == "placeholderImage"
        assert accessor_path(image["true_value"]) == f"{existing}.properties.template.containers[0].image"
        assert apps.resource(existing).condition == exists
    for app, minimum in (("webApp", "webMinReplicas"), ("workerApp", "workerMinReplicas")):
        scale = apps.resource(app).properties["template"]["scale"]
        left, right, when_placeholder, otherwise = equals_ternary(scale["minReplicas"])
        assert {left, right} == {
            apps.resource(app).properties["template"]["containers"][0]["image"],
            "placeholderImage",
        }
        assert (when_placeholder, otherwise) == (0, minimum)
