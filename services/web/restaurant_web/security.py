"""Browser-facing protections: CSRF for HTML forms, same-origin checks for the API, security headers.

CSRF uses the double-submit pattern: a random token in a SameSite=Strict cookie that a form must repeat
in its `csrf_token` field. It needs no server-side secret, so none has to live in Azure's settings.
"""

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob: https:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class CsrfError(Exception):
    """A state-changing browser request without a valid token, or from another origin."""


def csrf_token(request: Request) -> str:
    token: str = request.state.csrf_token
    return token


def verify_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie.encode(), submitted.encode()):
        raise CsrfError("The form has expired or did not come from this site. Reload the page and try again.")


def verify_same_origin(request: Request) -> None:
    """API writes are open to programs (no Origin header) and to pages of this site, not to other sites."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfError("Cross-site requests to the API are not allowed.")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise CsrfError("Cross-origin requests to the API are not allowed.")
    elif origin == "null":
        raise CsrfError("Requests from opaque origins are not allowed.")


class SecurityMiddleware:
    """Adds the security headers to every response and gives every browser a CSRF cookie."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        existing = Request(scope).cookies.get(CSRF_COOKIE)
        token = existing if existing and 20 <= len(existing) <= 100 else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = token

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if token != existing:
                    secure = "; Secure" if self.secure_cookies or scope.get("scheme") == "https" else ""
                    headers.append(
                        "Set-Cookie",
                        f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000{secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
