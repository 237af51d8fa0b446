"""Run in a child process by test_azure_monitor.py: configures telemetry with Azure Monitor's distro replaced
by a recorder (Azure's ingestion endpoint cannot be reached from here), then prints what the distro and the
supervisor's exporters were given, as JSON."""

import json
import sys
from typing import Any
from unittest import mock

from restaurant_shared import telemetry
from restaurant_shared.identity import get_credential
from restaurant_shared.settings import load_settings
from restaurant_shared.telemetry import exporters

calls: list[dict[str, Any]] = []


def record(**kwargs: Any) -> None:
    calls.append(kwargs)


settings = load_settings()
with mock.patch("azure.monitor.opentelemetry.configure_azure_monitor", record):
    assert telemetry.configure(settings, "restaurant-probe")
[call] = calls
supervisor = exporters.azure_monitor_exporters(settings)
assert supervisor is not None
credential = get_credential(settings)
json.dump(
    {
        "connection_string": call["connection_string"],
        "credential_is_the_process_identity": call["credential"] is credential,
        "credential_type": type(call["credential"]).__name__,
        "service_name": call["resource"].attributes["service.name"],
        "disabled_instrumentations": sorted(
            name for name, option in call["instrumentation_options"].items() if option == {"enabled": False}
        ),
        "otlp_span_processors": [type(p.span_exporter).__name__ for p in call["span_processors"]],
        "logger_name": call["logger_name"],
        "supervisor_credentials": [
            getattr(exporter, "_credential", None) is credential
            for exporter in (supervisor.spans, supervisor.metrics, supervisor.logs)
        ],
    },
    sys.stdout,
)
