"""Translate exceptions into HTTP responses, in one place: JSON for the API, pages for people."""

import logging
from urllib.parse import urlencode

from azure.core.exceptions import AzureError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from restaurant_web.moderation.principal import LOGIN_PATH, SignInRequired
from restaurant_web.pagination import CursorInvalid
from restaurant_web.security import CsrfError
from restaurant_web.templating import templates
from restaurant_web.uploads import UploadRejected

log = logging.getLogger("restaurant_web.errors")

STORAGE_UNAVAILABLE = "Photo storage is unavailable right now. Nothing was saved; please try again in a minute."
DATABASE_UNAVAILABLE = "The database is unavailable right now. Nothing was saved; please try again in a minute."


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/photos/", "/healthz", "/readyz")) or path in ("/openapi.json", "/docs")


def error_response(request: Request, status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status_code, headers=headers)
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status_code": status_code, "message": message},
        status_code=status_code,
        headers=headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    message = "We couldn't find that page." if exc.status_code == 404 else str(exc.detail)
    return error_response(request, exc.status_code, message, dict(exc.headers) if exc.headers else None)


async def _upload_rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UploadRejected)
    return error_response(request, exc.status_code, exc.message)


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return RedirectResponse(f"{LOGIN_PATH}?{urlencode({'post_login_redirect_uri': exc.return_to})}", status_code=303)


async def _cursor_invalid(request: Request, exc: Exception) -> Response:
    return error_response(request, 400, str(exc))


async def _csrf_error(request: Request, exc: Exception) -> Response:
    return error_response(request, 403, str(exc))


async def _storage_error(request: Request, exc: Exception) -> Response:
    log.warning("storage unavailable: %s", type(exc).__name__)
    return error_response(request, 503, STORAGE_UNAVAILABLE, {"Retry-After": "30"})


async def _database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or type(exc.orig).__name__ in ("OperationalError", "InterfaceError"):
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return error_response(request, 503, DATABASE_UNAVAILABLE, {"Retry-After": "30"})
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UploadRejected, _upload_rejected)
    app.add_exception_handler(CsrfError, _csrf_error)
    app.add_exception_handler(CursorInvalid, _cursor_invalid)
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(AzureError, _storage_error)
    app.add_exception_handler(DBAPIError, _database_error)
