"""Web and worker processes exporting over OTLP to a receiver this test module runs."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.fixtures.otlp import OtlpReceiver
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv, reset_state

# The SDK's own variables (not the product's): export within a fraction of a second instead of 5 s / 60 s.
FAST_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "OTEL_BLRP_SCHEDULE_DELAY": "200",
    "OTEL_METRIC_EXPORT_INTERVAL": "500",
}


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced_env(app_env: AppEnv, otlp: OtlpReceiver, settings: Settings, blob_store: BlobStore) -> AppEnv:
    reset_state(settings, blob_store)  # no photo left by another module for this module's sweeper
    return app_env.with_(OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="module")
def web(traced_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(traced_env, log_dir, extra_env=FAST_EXPORT).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def worker(traced_env: AppEnv, log_dir: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(traced_env, log_dir, extra_env=FAST_EXPORT).start()
    yield process
    process.stop()
