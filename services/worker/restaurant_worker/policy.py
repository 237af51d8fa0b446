"""The worker's failure policy, in one place: what is retried, how, and what marks a photo failed.

- A bad image (ImageRejected) is permanent: the photo is marked failed with the reason, no retry.
- A missing original, or a photo whose processing keeps dying (max attempts), is permanent too.
- Storage or database trouble is transient: retried with exponential backoff and jitter, a bounded number
  of times; after the last attempt the photo is marked failed with the reason.
- Anything else is a bug: the photo is marked failed with a generic reason (the original stays in Blob, so
  it can be processed again once fixed) and the traceback goes to the log.
"""

import sys

from azure.core.exceptions import AzureError, ResourceNotFoundError
from celery.utils.serialization import UnpickleableExceptionWrapper
from sqlalchemy.exc import InterfaceError, OperationalError

from restaurant_worker.processing import TooManyAttempts
from restaurant_worker.thumbnails import ImageRejected

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    AzureError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (ImageRejected, ResourceNotFoundError, TooManyAttempts)

RETRY_BACKOFF_SECONDS = 2
RETRY_BACKOFF_MAX_SECONDS = 120


def failure_reason(exc: BaseException, attempts: int) -> str:
    kind = original_type(exc)
    if issubclass(kind, ImageRejected | TooManyAttempts):
        return str(exc.exc_args[0]) if isinstance(exc, UnpickleableExceptionWrapper) else str(exc)
    if issubclass(kind, ResourceNotFoundError):
        return "The uploaded file is missing from storage."
    if issubclass(kind, TRANSIENT_ERRORS):
        return f"Storage or database unavailable after {attempts} attempts; the photo was not processed."
    return "An internal error stopped this photo from being processed."


def failure_kind(exc: BaseException) -> str:
    """The reason as a fixed code, for metrics and traces (failure_reason is the sentence people read)."""
    kind = original_type(exc)
    if issubclass(kind, ImageRejected):
        return "bad_image"
    if issubclass(kind, TooManyAttempts):
        return "too_many_attempts"
    if issubclass(kind, ResourceNotFoundError):
        return "missing_original"
    if issubclass(kind, TRANSIENT_ERRORS):
        return "unavailable"
    return "internal"


def original_type(exc: BaseException) -> type[BaseException]:
    """The class of the exception the task raised. Celery hands `on_failure` a stand-in for exceptions it
    cannot pickle, which includes most Azure SDK errors; the real class is in a module this process has
    already loaded (it raised the exception), so it is looked up there, never imported by name."""
    if isinstance(exc, UnpickleableExceptionWrapper):
        kind = getattr(sys.modules.get(exc.exc_module), exc.exc_cls_name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return kind
    return type(exc)
