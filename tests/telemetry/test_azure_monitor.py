"""Azure Monitor is configured through its distro with the process's managed identity: Entra ingestion, no key.

Azure's ingestion endpoint cannot be reached from here, so the distro is replaced by a recorder in a child
process (configuring telemetry installs process-wide globals, which must not leak into this test process).
"""

import json
import subprocess
import sys

from azure.monitor.opentelemetry._constants import _FULLY_SUPPORTED_INSTRUMENTED_LIBRARIES

from restaurant_shared.telemetry.setup import DISTRO_INSTRUMENTATIONS
from tests.fixtures.stack import REPO_ROOT, AppEnv

# The connection string names the resource only; with Entra ingestion its key cannot send data.
CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
)


def probe(env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.telemetry.azure_monitor_probe"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_distro_gets_the_managed_identity_and_the_connection_string(app_env: AppEnv) -> None:
    env = app_env.process_env(
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING,
        AZURE_CLIENT_ID="11111111-2222-3333-4444-555555555555",
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
    )
    found = probe(env)
    assert found["connection_string"] == CONNECTION_STRING
    assert found["credential_is_the_process_identity"] is True
    assert found["credential_type"] == "DefaultAzureCredential"
    assert found["service_name"] == "restaurant-probe"
    assert found["logger_name"] == ""
    assert found["otlp_span_processors"] == [], "OTLP is off unless its endpoint is set"
    # The Celery parent's own exporters sign in with the same identity.
    assert found["supervisor_credentials"] == [True, True, True]


def test_distro_and_otlp_together(app_env: AppEnv) -> None:
    env = app_env.process_env(
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
    )
    assert probe(env)["otlp_span_processors"] == ["OTLPSpanExporter"]


def test_the_distro_instruments_nothing_itself(app_env: AppEnv) -> None:
    """This product instruments its libraries the same way for every exporter; the distro must not add its own
    (requests and urllib3 would repeat every Azure SDK call)."""
    assert set(_FULLY_SUPPORTED_INSTRUMENTED_LIBRARIES) <= set(DISTRO_INSTRUMENTATIONS)
    env = app_env.process_env(
        APPLICATIONINSIGHTS_CONNECTION_STRING=CONNECTION_STRING, APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true"
    )
    assert probe(env)["disabled_instrumentations"] == sorted(DISTRO_INSTRUMENTATIONS)
