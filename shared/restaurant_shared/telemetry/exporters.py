"""Where telemetry goes: OTLP and Azure Monitor exporters, chosen by configuration alone.

Every exporter here runs behind a batching processor or a periodic metric reader, on a thread of its own:
requests and tasks only ever append to an in-memory queue, and an unreachable endpoint costs a dropped batch
and a warning in the log, never a failed request.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from restaurant_shared.identity import get_credential
from restaurant_shared.settings import Settings


@dataclass(frozen=True)
class Exporters:
    spans: SpanExporter
    metrics: MetricExporter
    logs: LogRecordExporter


def otlp_exporters(settings: Settings) -> Exporters | None:
    """OTLP over HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT, with the per-signal paths the spec appends."""
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    base = settings.otel_exporter_otlp_endpoint.rstrip("/")
    return Exporters(
        spans=OTLPSpanExporter(endpoint=f"{base}/v1/traces"),
        metrics=OTLPMetricExporter(endpoint=f"{base}/v1/metrics"),
        logs=OTLPLogExporter(endpoint=f"{base}/v1/logs"),
    )


def azure_monitor_options(settings: Settings) -> dict[str, Any] | None:
    """What Azure Monitor's exporters (and the distro) need: the resource's connection string and the
    managed identity, so ingestion uses Entra tokens and the resource can turn local (key) auth off."""
    if settings.applicationinsights_connection_string is None:
        return None
    return {
        "connection_string": settings.applicationinsights_connection_string.get_secret_value(),
        "credential": get_credential(settings),
    }


def azure_monitor_exporters(settings: Settings) -> Exporters | None:
    """Azure Monitor's exporters on their own, for providers that must not become the process's globals."""
    options = azure_monitor_options(settings)
    if options is None:
        return None
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorLogExporter,
        AzureMonitorMetricExporter,
        AzureMonitorTraceExporter,
    )

    return Exporters(
        spans=AzureMonitorTraceExporter(**options),
        metrics=AzureMonitorMetricExporter(**options),
        logs=AzureMonitorLogExporter(**options),
    )


def bound_to_this_process(exporters: Exporters) -> Exporters:
    """Wrap exporters so that only the process that made them sends anything.

    The SDK restarts its processor and reader threads in a forked child, which then holds a copy of the
    parent's providers and exporters, HTTP connections included. Celery's pool forks replacement children
    from its parent at any time; their copy of the parent's telemetry must stay silent, or two processes
    would write to one socket and the parent's metrics would be reported twice.
    """
    pid = os.getpid()
    return Exporters(
        spans=_ProcessSpanExporter(exporters.spans, pid),
        metrics=_ProcessMetricExporter(exporters.metrics, pid),
        logs=_ProcessLogExporter(exporters.logs, pid),
    )


class _ProcessSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter, pid: int) -> None:
        self._inner, self._pid = inner, pid

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if os.getpid() != self._pid:
            return SpanExportResult.SUCCESS
        return self._inner.export(spans)

    def shutdown(self) -> None:
        if os.getpid() == self._pid:
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return os.getpid() != self._pid or self._inner.force_flush(timeout_millis)


class _ProcessMetricExporter(MetricExporter):
    def __init__(self, inner: MetricExporter, pid: int) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner, self._pid = inner, pid

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        if os.getpid() != self._pid:
            return MetricExportResult.SUCCESS
        return self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return os.getpid() != self._pid or self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if os.getpid() == self._pid:
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class _ProcessLogExporter(LogRecordExporter):
    def __init__(self, inner: LogRecordExporter, pid: int) -> None:
        self._inner, self._pid = inner, pid

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if os.getpid() != self._pid:
            return LogRecordExportResult.SUCCESS
        return self._inner.export(batch)

    def shutdown(self) -> None:
        if os.getpid() == self._pid:
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return os.getpid() != self._pid or self._inner.force_flush(timeout_millis)
