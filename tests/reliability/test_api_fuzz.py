"""Schemathesis fuzzes every operation of the OpenAPI spec against the real gunicorn web process.

A bounded number of generated examples per operation; the bar is zero server errors: every malformed id,
query, JSON body or multipart upload gets a 4xx, never a 5xx. (Schemathesis' pytest loader needs the spec
at collection time; the web process exists only once fixtures run, so the operations are driven here.)
"""

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error

from tests.fixtures.processes import WebProcess

EXAMPLES_PER_OPERATION = 25


def test_no_operation_answers_with_a_server_error(web: WebProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{web.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    failures: dict[str, str] = {}
    calls: list[int] = []
    for operation in operations:

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same examples on every run: a failure here is reproducible
            suppress_health_check=list(hypothesis.HealthCheck),
            database=None,
        )
        @hypothesis.given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case) -> None:
            calls.append(1)
            case.call_and_validate(base_url=web.url, checks=[not_a_server_error], timeout=30)

        try:
            fuzz()
        except Exception as exc:
            failures[operation.label] = str(exc)[:2000]
    assert failures == {}
    assert len(calls) >= len(operations) * 5
    assert "Traceback" not in web.log()
