"""Liveness (/healthz: the process answers) and readiness (/readyz: Postgres, Blob and the broker answer)."""

import logging
from collections.abc import Callable

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from restaurant_shared.identity import STORAGE_SCOPE, get_credential
from restaurant_web.deps import ServicesDep
from restaurant_web.services import Services

router = APIRouter(tags=["health"])
log = logging.getLogger("restaurant_web.health")
CHECK_TIMEOUT_SECONDS = 10


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Callable[[Services], None]] = {
        "postgres": _check_postgres,
        "blob": _check_blob,
        "broker": _check_broker,
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
                await anyio.to_thread.run_sync(check, services, abandon_on_cancel=True)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"unavailable: {describe(exc)}"
            log.warning("readiness check failed: resource=%s error=%s", name, describe(exc))
    ready = all(value == "ok" for value in results.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": results}, status_code=200 if ready else 503
    )


def describe(exc: BaseException) -> str:
    """A short reason without secrets: the exception type and the first line of its message."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT_SECONDS} s"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:300]


def _check_postgres(services: Services) -> None:
    with services.db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_blob(services: Services) -> None:
    services.store.check()


def _check_broker(services: Services) -> None:
    if services.settings.celery_broker_url.lower().startswith("azurestoragequeues://defaultazurecredential@"):
        # The queue transport retries a failed sign-in for a long time; asking the identity first
        # turns a wrong client id into a clear answer.
        get_credential(services.settings).get_token(STORAGE_SCOPE)
    with services.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=5)
        # Declaring the queue makes a real round trip (Redis LLEN, Storage Queue properties) with the
        # process's credentials, not just a TCP connect.
        queue = services.celery.conf.task_default_queue
        connection.default_channel.queue_declare(queue=queue, durable=True, auto_delete=False)
