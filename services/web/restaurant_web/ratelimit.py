"""Per-client rate limits on posting reviews and reports (the HTML forms and the API), checked before the
body is read.

A flood of uploads is refused with 429 and Retry-After before a single photo byte reaches Blob. Counts live
in RATE_LIMIT_STORAGE_URL (memory:// per process, redis://... shared by every process and replica), kept by
the `limits` package with a moving window. If that storage is unreachable, requests are let through: a
missing rate limit is better than a site that refuses every review.

The client is the address uvicorn resolved: the socket's peer, or, when that peer is a trusted proxy
(FORWARDED_ALLOW_IPS, see gunicorn.conf.py), the rightmost X-Forwarded-For entry that is not a trusted
proxy. What a client writes into the header itself therefore never gives it a fresh allowance.
"""

import logging
import math
import re
import time
from dataclasses import dataclass

import anyio.to_thread
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from restaurant_shared.settings import ConfigurationError, Settings
from restaurant_web import telemetry
from restaurant_web.errors import error_response

log = logging.getLogger("restaurant_web.ratelimit")

_WARN_EVERY_SECONDS = 60


@dataclass(frozen=True)
class Rule:
    name: str
    paths: re.Pattern[str]  # the HTML form and the API endpoint
    doing: str  # for the message: "You are … too quickly"


REVIEWS = Rule("reviews", re.compile(r"^/(api/)?restaurants/[^/]+/reviews/?$"), "posting reviews")
REPORTS = Rule("reports", re.compile(r"^/(api/)?(reviews|photos)/[^/]+/reports/?$"), "sending reports")


def parse_limits(value: str, variable: str = "RATE_LIMIT_REVIEWS") -> list[RateLimitItem]:
    if not value.strip():
        return []
    try:
        return parse_many(value)
    except ValueError:
        raise ConfigurationError(
            f"Invalid configuration:\n  {variable}: {value!r} is not a rate limit such as 20/minute"
        ) from None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimits:
    """The limits and their counts; built at start-up so a bad RATE_LIMIT_* stops the app at once."""

    def __init__(self, settings: Settings) -> None:
        self.items = {
            REVIEWS.name: parse_limits(settings.rate_limit_reviews, "RATE_LIMIT_REVIEWS"),
            REPORTS.name: parse_limits(settings.rate_limit_reports, "RATE_LIMIT_REPORTS"),
        }
        url = settings.rate_limit_storage_url
        # Fail fast when Redis is down: an upload must not wait on its rate limit.
        options = {"socket_connect_timeout": 1, "socket_timeout": 1} if url.startswith("redis") else {}
        storage = storage_from_string(url, **options)
        assert isinstance(storage, Storage)  # the synchronous kind: counting runs in a worker thread
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(self.storage)
        self._last_warning = 0.0

    def rule_for(self, path: str) -> Rule | None:
        return next((rule for rule in (REVIEWS, REPORTS) if self.items[rule.name] and rule.paths.match(path)), None)

    def hit(self, rule: Rule, client: str) -> int | None:
        """Count one post; None if allowed, else the seconds until the client may try again."""
        try:
            for item in self.items[rule.name]:
                if not self.limiter.hit(item, rule.name, client):
                    reset_at = self.limiter.get_window_stats(item, rule.name, client).reset_time
                    return max(1, math.ceil(reset_at - time.time()))
        except Exception as exc:  # storage down: let the request through, and say so now and then
            now = time.monotonic()
            if now - self._last_warning > _WARN_EVERY_SECONDS:
                self._last_warning = now
                log.warning("rate limit storage unavailable, not limiting: %s", type(exc).__name__)
        return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: RateLimits) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self.limit.rule_for(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        retry_after = await anyio.to_thread.run_sync(self.limit.hit, rule, client_address(scope))
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        if rule is REVIEWS:
            telemetry.review_rejected("rate_limited")
        response = _too_many_requests(Request(scope), rule, retry_after)
        await response(scope, receive, send)


def _too_many_requests(request: Request, rule: Rule, retry_after: int) -> Response:
    minutes = f"{math.ceil(retry_after / 60)} minute{'s' if retry_after > 60 else ''}"
    message = f"You are {rule.doing} too quickly. Nothing was saved; please try again in {minutes}."
    headers = {"Retry-After": str(retry_after)}
    if not request.url.path.startswith("/api/") and "application/json" in request.headers.get("accept", ""):
        # The review form's script shows `errors` next to the form, like any other refusal.
        return JSONResponse({"errors": {"__all__": message}}, status_code=429, headers=headers)
    return error_response(request, 429, message, headers)
