"""The worker's failure policy, in one place: what is retried, how, and what marks a photo failed.

- A bad image (ImageRejected) is permanent: the photo is marked failed with the reason, no retry.
- A missing original, or a photo whose processing keeps dying (max attempts), is permanent too.
- Storage or database trouble is transient: retried with exponential backoff and jitter, a bounded number
  of times; after the last attempt the photo is marked failed with the reason.
- Anything else is a bug: the photo is marked failed with a generic reason (the original stays in Blob, so
  it can be processed again once fixed) and the traceback goes to the log.
"""

from azure.core.exceptions import AzureError, ResourceNotFoundError
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
    if isinstance(exc, ImageRejected | TooManyAttempts):
        return str(exc)
    if isinstance(exc, ResourceNotFoundError):
        return "The uploaded file is missing from storage."
    if isinstance(exc, TRANSIENT_ERRORS):
        return f"Storage or database unavailable after {attempts} attempts; the photo was not processed."
    return "An internal error stopped this photo from being processed."
