"""OpenTelemetry for web and worker: one photo's journey as one trace, the metrics an operator graphs, and
the JSON logs with trace and span ids. See setup.py for how exporters are chosen."""

from restaurant_shared.telemetry.setup import configure, configure_supervisor, is_enabled, meter, shutdown, tracer

__all__ = ["configure", "configure_supervisor", "is_enabled", "meter", "shutdown", "tracer"]
