"""A bounded soak: bench/load.py's clients (10 x 10 s, 2.4 MB photos) against the real web and worker.
The bar is the benchmark's: 0 errors, and every accepted photo `ready` once the queue drains."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import make_photo, run_load
from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.fixtures.processes import WebProcess
from tests.fixtures.stack import AppEnv
from tests.reliability.conftest import NO_RATE_LIMIT
from tests.reliability.state import assert_nothing_lost, review_photo_counts


@pytest.fixture
def big_upload_web(app_env: AppEnv, log_dir: Path) -> Iterator[WebProcess]:
    process = WebProcess(app_env, log_dir, extra_env={**NO_RATE_LIMIT, "MAX_UPLOAD_BYTES": str(8 * 1024 * 1024)})
    yield process.start()
    process.stop()


def test_ten_clients_for_ten_seconds_lose_nothing(
    big_upload_web: WebProcess, worker, settings: Settings, blob_store: BlobStore, clean_state: None
) -> None:
    result = asyncio.run(run_load(big_upload_web.url, clients=10, seconds=10, photo=make_photo(), drain_timeout=120))
    print(result.report())
    assert not result.errors
    assert len(result.photo_ids) >= 20, "too few uploads to call this a soak"
    assert result.ready == len(result.photo_ids) and result.failed == 0 and result.unfinished == 0
    assert assert_nothing_lost(settings, blob_store) == set()
    assert set(review_photo_counts(settings).values()) == {1}
