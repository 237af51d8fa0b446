"""Reading a photo's journey back from the spans the receiver got."""

import time
from dataclasses import dataclass

from restaurant_shared.telemetry import tracing
from tests.fixtures.otlp import OtlpReceiver, ReceivedSpan

RUN_SPAN = "run/restaurant.make_thumbnails"
FINAL_OUTCOMES = {"ready", "failed", "skipped"}


@dataclass
class Trace:
    spans: list[ReceivedSpan]

    @property
    def by_id(self) -> dict[str, ReceivedSpan]:
        return {span.span_id: span for span in self.spans}

    def parent(self, span: ReceivedSpan) -> ReceivedSpan | None:
        return self.by_id.get(span.parent_span_id)

    def ancestors(self, span: ReceivedSpan) -> list[ReceivedSpan]:
        chain = []
        while (parent := self.parent(span)) is not None:
            chain.append(parent)
            span = parent
        return chain

    def descendants(self, span: ReceivedSpan) -> list[ReceivedSpan]:
        return [other for other in self.spans if span in self.ancestors(other)]

    def one(self, name: str, service: str | None = None) -> ReceivedSpan:
        found = [span for span in self.spans if span.name == name and service in (None, span.service)]
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {[s.name for s in self.spans]}"
        return found[0]


def run_span(otlp: OtlpReceiver, photo_id: str, timeout: float = 30) -> ReceivedSpan:
    """The worker's finished task span for this photo (the last run, if it ran more than once)."""

    def find(receiver: OtlpReceiver) -> ReceivedSpan | None:
        runs = [
            span
            for span in receiver.spans
            if span.name == RUN_SPAN
            and span.attributes.get(tracing.PHOTO_ID) == photo_id
            and span.attributes.get(tracing.PHOTO_OUTCOME) in FINAL_OUTCOMES
        ]
        return runs[-1] if runs else None

    return otlp.wait_for(find, timeout, what=f"task span for photo {photo_id}")


def trace_of(otlp: OtlpReceiver, span: ReceivedSpan, settle: float = 1.0) -> Trace:
    """Every span of the span's trace, after the exporters' next batches had time to arrive."""
    time.sleep(settle)
    return Trace(otlp.spans_of(span.trace_id))


def server_span(otlp: OtlpReceiver, route: str, **attributes: object) -> ReceivedSpan:
    def find(receiver: OtlpReceiver) -> ReceivedSpan | None:
        for span in receiver.spans:
            wanted = all(span.attributes.get(key) == value for key, value in attributes.items())
            if span.kind == "SERVER" and span.name == route and wanted:
                return span
        return None

    return otlp.wait_for(find, what=f"server span {route} {attributes}")
