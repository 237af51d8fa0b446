"""Failure reasons survive Celery's pickling: Azure SDK errors reach `on_failure` wrapped, not as themselves."""

import pytest
from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError
from celery.utils.serialization import get_pickleable_exception

from restaurant_worker.policy import failure_reason
from restaurant_worker.thumbnails import ImageRejected


@pytest.mark.parametrize(
    "exc, reason",
    [
        (ServiceRequestError("Connection refused"), "Storage or database unavailable after 3 attempts"),
        (ResourceNotFoundError("The specified blob does not exist."), "The uploaded file is missing from storage."),
        (ImageRejected("The image file is damaged."), "The image file is damaged."),
        (KeyError("bug"), "An internal error stopped this photo from being processed."),
    ],
)
def test_failure_reason_names_the_cause_even_for_exceptions_celery_cannot_pickle(exc: Exception, reason: str) -> None:
    assert failure_reason(get_pickleable_exception(exc), 3).startswith(reason)
    assert failure_reason(exc, 3).startswith(reason)
