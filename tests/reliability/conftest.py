"""Real web (gunicorn) and worker (Celery) processes for the reliability suite, one pair per module.

The review rate limit is off here (RATE_LIMIT_REVIEWS=""): these tests post many reviews from one address;
test_rate_limit.py turns it on where it is the subject.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv

NO_RATE_LIMIT = {"RATE_LIMIT_REVIEWS": ""}


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability-logs")


@pytest.fixture(scope="module")
def web(app_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(app_env, log_dir, extra_env=NO_RATE_LIMIT).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def worker(app_env: AppEnv, log_dir: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(app_env, log_dir).start()
    yield process
    process.stop()
