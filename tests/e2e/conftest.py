from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def web(app_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(app_env, log_dir).start()
    yield process
    process.stop()


@pytest.fixture
def worker(app_env: AppEnv, log_dir: Path, clean_state: None) -> Iterator[WorkerProcess]:
    process = WorkerProcess(app_env, log_dir).start()
    yield process
    process.stop()
