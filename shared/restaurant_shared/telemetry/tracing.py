"""What the product's own spans say, and how a photo's upload is found again later.

Span attributes name photos, reviews and reasons by id or by a fixed code; never a user's name, review
text, file name, a token or a key. A photo stores the W3C traceparent of its upload so that the sweeper,
re-enqueueing it minutes later in another trace, can link back to where its journey began.
"""

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from restaurant_shared.telemetry.setup import tracer

PHOTO_ID = "restaurant.photo.id"
PHOTO_IDS = "restaurant.photo.ids"
REVIEW_ID = "restaurant.review.id"
RESTAURANT_ID = "restaurant.restaurant.id"
PHOTO_OUTCOME = "restaurant.photo.outcome"
PHOTO_FAILURE_REASON = "restaurant.photo.failure_reason"
PHOTO_FAILURE_KIND = "restaurant.photo.failure_kind"
UPLOAD_REJECTED_REASON = "restaurant.upload.rejected_reason"

_TRACE_CONTEXT = TraceContextTextMapPropagator()


def current_span() -> Span:
    return trace.get_current_span()


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None when nothing is being traced."""
    carrier: dict[str, str] = {}
    _TRACE_CONTEXT.inject(carrier)
    return carrier.get("traceparent")


def link_to(traceparent: str | None) -> list[Link]:
    """A link to the span a stored traceparent names; none if it is missing or malformed."""
    if not traceparent:
        return []
    context = trace.get_current_span(_TRACE_CONTEXT.extract({"traceparent": traceparent})).get_span_context()
    return [Link(context)] if context.is_valid else []


def message_headers() -> dict[str, str]:
    """The current trace context as task headers (Celery's instrumentation reads them on the consumer side)."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


@contextmanager
def enqueue_span(photo_id: uuid.UUID, links: Sequence[Link] = ()) -> Iterator[Span]:
    with tracer().start_as_current_span(
        "enqueue thumbnails", kind=SpanKind.INTERNAL, links=links, attributes={PHOTO_ID: str(photo_id)}
    ) as span:
        yield span
