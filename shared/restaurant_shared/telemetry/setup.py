"""OpenTelemetry providers, once per process, from Settings alone.

- APPLICATIONINSIGHTS_CONNECTION_STRING set: the azure-monitor-opentelemetry distro, signed in with the
  process's managed identity (Entra ingestion).
- OTEL_EXPORTER_OTLP_ENDPOINT set: OTLP over HTTP/protobuf. Both set: both receive everything.
- Neither: nothing is configured or instrumented; the OpenTelemetry API stays a no-op.

Forked processes set up their own after the fork: gunicorn's workers in the app factory, Celery's pool
children in `worker_process_init`. A pool child must not inherit the parent's providers (one socket in two
processes, the parent's metrics reported twice), so the Celery parent, which runs the sweeper and reports the
queue depth, uses `configure_supervisor`: providers that stay out of the OpenTelemetry globals and whose
exporters send nothing from any other process.
"""

import logging
import os
import threading
import time
from dataclasses import dataclass
from importlib.metadata import version

from opentelemetry import _logs, metrics, trace
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import Meter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_NAMESPACE, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from restaurant_shared.settings import Settings
from restaurant_shared.telemetry import exporters
from restaurant_shared.telemetry.instrumentation import instrument_libraries

SCOPE = "restaurant"
# Libraries the distro would instrument on its own; this module instruments the ones the product uses,
# the same way whichever exporter is configured (and leaves out requests/urllib3, which would repeat the
# Azure SDK's HTTP spans).
DISTRO_INSTRUMENTATIONS = (
    "azure_sdk",
    "django",
    "fastapi",
    "flask",
    "httpx",
    "httpx2",
    "psycopg2",
    "requests",
    "urllib",
    "urllib3",
)
# A stop must not hang on an unreachable endpoint: gunicorn and Celery give a process 30 s in all.
SHUTDOWN_TIMEOUT_SECONDS = 5.0

log = logging.getLogger(__name__)


@dataclass
class _ProcessTelemetry:
    pid: int
    # The API's types: the distro leaves a signal's no-op provider in place when that signal is turned off
    # (OTEL_LOGS_EXPORTER=none, for instance).
    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: _logs.LoggerProvider
    handler: logging.Handler | None


_lock = threading.Lock()
_state: _ProcessTelemetry | None = None


def is_enabled(settings: Settings) -> bool:
    exporters_set = (settings.applicationinsights_connection_string, settings.otel_exporter_otlp_endpoint)
    return any(value is not None for value in exporters_set)


def service_resource(settings: Settings, default_service_name: str) -> Resource:
    return Resource.create(
        {
            SERVICE_NAME: settings.otel_service_name or default_service_name,
            SERVICE_NAMESPACE: "restaurant-reviews",
            SERVICE_VERSION: version("restaurant-shared"),
        }
    )


def configure(settings: Settings, default_service_name: str) -> bool:
    """Install this process's providers as the OpenTelemetry globals and instrument the libraries.

    Safe to call again (a second app in the same process); returns whether telemetry is on.
    """
    global _state
    with _lock:
        if _state is not None and _state.pid == os.getpid():
            return True
        _forget_inherited()
        if not is_enabled(settings):
            return False
        resource = service_resource(settings, default_service_name)
        otlp = exporters.otlp_exporters(settings)
        azure = exporters.azure_monitor_options(settings)
        if azure is not None:
            _state = _configure_azure_monitor(azure, resource, otlp)
        else:
            assert otlp is not None
            _state = _build(resource, [otlp])
            trace.set_tracer_provider(_state.tracer_provider)
            metrics.set_meter_provider(_state.meter_provider)
            _logs.set_logger_provider(_state.logger_provider)
            _state.handler = _attach_log_handler(_state.logger_provider)
        instrument_libraries()
    return True


def configure_supervisor(settings: Settings, default_service_name: str) -> bool:
    """Providers for a process that forks workers later: kept out of the globals, silent in its children."""
    global _state
    with _lock:
        if _state is not None and _state.pid == os.getpid():
            return True
        _forget_inherited()
        if not is_enabled(settings):
            return False
        found = [exporters.otlp_exporters(settings), exporters.azure_monitor_exporters(settings)]
        bound = [exporters.bound_to_this_process(found_exporters) for found_exporters in found if found_exporters]
        _state = _build(service_resource(settings, default_service_name), bound)
        _state.handler = _attach_log_handler(_state.logger_provider)
    return True


def tracer() -> Tracer:
    state = _current()
    return state.tracer_provider.get_tracer(SCOPE) if state else trace.get_tracer(SCOPE)


def meter() -> Meter:
    return meter_provider().get_meter(SCOPE)


def meter_provider() -> metrics.MeterProvider:
    state = _current()
    return state.meter_provider if state else metrics.get_meter_provider()


def shutdown() -> None:
    """Send what is buffered and stop this process's exporters, within SHUTDOWN_TIMEOUT_SECONDS in all.

    The SDK's own shutdown waits up to 30 s per signal on an endpoint that does not answer; the three run
    side by side here, and whatever is still waiting at the deadline is abandoned with the process.
    """
    global _state
    with _lock:
        state = _current()
        if state is None:
            return
        _state = None
        if state.handler is not None:
            logging.getLogger().removeHandler(state.handler)
    stopping = [
        threading.Thread(target=_stop, args=(provider,), name="telemetry-shutdown", daemon=True)
        for provider in (state.tracer_provider, state.logger_provider, state.meter_provider)
        if isinstance(provider, TracerProvider | LoggerProvider | MeterProvider)
    ]
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join(max(0.0, deadline - time.monotonic()))


def _stop(provider: TracerProvider | LoggerProvider | MeterProvider) -> None:
    try:
        provider.shutdown()
    except Exception as exc:  # a broken endpoint must not turn a clean stop into a crash
        log.warning("telemetry shutdown: %s", type(exc).__name__)


def _current() -> _ProcessTelemetry | None:
    state = _state
    return state if state is not None and state.pid == os.getpid() else None


def _forget_inherited() -> None:
    # A forked child inherits its parent's log handler; its records belong to the child's own providers.
    global _state
    if _state is not None and _state.handler is not None:
        logging.getLogger().removeHandler(_state.handler)
    _state = None


def _build(resource: Resource, sinks: list[exporters.Exporters]) -> _ProcessTelemetry:
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    readers: list[MetricReader] = []
    for sink in sinks:
        tracer_provider.add_span_processor(BatchSpanProcessor(sink.spans))
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(sink.logs))
        readers.append(PeriodicExportingMetricReader(sink.metrics))
    meter_provider = MeterProvider(metric_readers=readers, resource=resource)
    return _ProcessTelemetry(os.getpid(), tracer_provider, meter_provider, logger_provider, None)


def _configure_azure_monitor(
    options: dict[str, object], resource: Resource, otlp: exporters.Exporters | None
) -> _ProcessTelemetry:
    from azure.monitor.opentelemetry import configure_azure_monitor

    span_processors: list[SpanProcessor] = []
    log_processors: list[LogRecordProcessor] = []
    readers: list[MetricReader] = []
    if otlp is not None:
        span_processors.append(BatchSpanProcessor(otlp.spans))
        log_processors.append(BatchLogRecordProcessor(otlp.logs))
        readers.append(PeriodicExportingMetricReader(otlp.metrics))
    configure_azure_monitor(
        **options,
        resource=resource,
        logger_name="",  # the root logger: every JSON log line also becomes a log record there
        instrumentation_options={name: {"enabled": False} for name in DISTRO_INSTRUMENTATIONS},
        span_processors=span_processors,
        log_record_processors=log_processors,
        metric_readers=readers,
    )
    handler = next((h for h in logging.getLogger().handlers if isinstance(h, LoggingHandler)), None)
    return _ProcessTelemetry(
        os.getpid(), trace.get_tracer_provider(), metrics.get_meter_provider(), _logs.get_logger_provider(), handler
    )


def _attach_log_handler(provider: _logs.LoggerProvider) -> logging.Handler:
    handler = LoggingHandler(logger_provider=provider)
    logging.getLogger().addHandler(handler)
    return handler
