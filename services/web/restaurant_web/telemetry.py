"""The web app's telemetry: request spans, and what a review post records about itself."""

from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from restaurant_shared import telemetry
from restaurant_shared.models import Review
from restaurant_shared.settings import Settings
from restaurant_shared.telemetry import tracing
from restaurant_shared.telemetry.instrumentation import scrub_query_values
from restaurant_shared.telemetry.metrics import instruments

SERVICE_NAME = "restaurant-web"
# Probes and static files would drown the requests worth reading.
UNTRACED_URLS = "/healthz,/readyz,/static/.*"


def instrument(app: FastAPI, settings: Settings) -> None:
    if not telemetry.configure(settings, SERVICE_NAME):
        return
    # No span per ASGI message: an upload arrives in hundreds of chunks, each would be one.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=UNTRACED_URLS, exclude_spans=["receive", "send"], server_request_hook=_request_started
    )


def _request_started(span: Span, scope: dict[str, Any]) -> None:
    # A query string holds what a person typed (a search): only the parameter names are kept.
    scrub_query_values(span)


def review_rejected(reason: str) -> None:
    tracing.current_span().set_attribute(tracing.UPLOAD_REJECTED_REASON, reason)
    instruments().uploads_rejected.add(1, {"reason": reason})


def review_accepted(review: Review) -> None:
    span = tracing.current_span()
    span.set_attribute(tracing.RESTAURANT_ID, review.restaurant_id)
    span.set_attribute(tracing.REVIEW_ID, review.id)
    span.set_attribute(tracing.PHOTO_IDS, [str(photo.id) for photo in review.photos])
    found = instruments()
    found.uploads_accepted.add(1)
    if review.photos:
        found.photos_accepted.add(len(review.photos))
