"""Which libraries produce spans, and what is kept out of them.

Postgres (psycopg2, under SQLAlchemy), Redis (the broker and the shared rate-limit counts), Celery (the
producer in web, consumer and retries in the worker: the trace context travels in the task headers) and the
Azure SDK (every blob get and put). SQL is recorded with its placeholders, never its values; Redis commands
as `COMMAND ? ?`. Query strings may hold what a person typed (a search), so only their parameter names stay.
"""

from urllib.parse import parse_qsl, urlsplit, urlunsplit

from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span

_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_QUERY_ATTRIBUTES = ("url.query",)


def instrument_libraries() -> None:
    from azure.core.settings import settings as azure_settings
    from azure.core.tracing.ext.opentelemetry_span import OpenTelemetrySpan

    for instrumentor in (Psycopg2Instrumentor(), RedisInstrumentor(), CeleryInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(skip_dep_check=True)
    azure_settings.tracing_implementation = OpenTelemetrySpan


def names_only(query: str) -> str:
    """`q=thai food&limit=20` -> `q&limit`: which parameters were sent, not what they said."""
    return "&".join(name for name, _ in parse_qsl(query, keep_blank_values=True))


def without_query_values(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit(parts._replace(query=names_only(parts.query), fragment=""))


def scrub_query_values(span: Span) -> None:
    """Keep only the parameter names in a span's URL attributes (a hook for server spans, whose
    instrumentation sets these after the span started, out of a span processor's reach)."""
    attributes = span.attributes if isinstance(span, ReadableSpan) else None
    if not attributes or not span.is_recording():
        return
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, without_query_values(value))
    for key in _QUERY_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            span.set_attribute(key, names_only(value))
