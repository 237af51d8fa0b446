"""Web and worker in the Azure mode: one managed identity for Blob, the task queue and Postgres.

Their environment holds no connection string, account key or password; every resource is reached with
tokens from the (emulated) managed-identity endpoint, and the emulator sees both processes ask for them.
"""

import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image

from tests.e2e.helpers import create_restaurant, post_review, wait_for_photos
from tests.fixtures.identity_emulator import POSTGRES_RESOURCE, STORAGE_RESOURCE, ManagedIdentityEmulator
from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.services import AZURITE_KEY
from tests.fixtures.stack import AppEnv
from tests.worker import imagefactory

SECRET_NAMES = ("AZURE_STORAGE_CONNECTION_STRING", "POSTGRES_PASSWORD", "AZURE_STORAGE_KEY", "AccountKey")


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("identity-logs")


@pytest.fixture(scope="module")
def worker(identity_env: AppEnv, log_dir: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(identity_env, log_dir, name="identity-worker").start(timeout=60)
    yield process
    process.stop()


def process_tree(root_pid: int) -> set[int]:
    root = psutil.Process(root_pid)
    return {root_pid, *(child.pid for child in root.children(recursive=True))}


def assert_no_secrets(env: dict[str, str]) -> None:
    for name, value in env.items():
        assert not any(secret in name for secret in SECRET_NAMES), name
        assert AZURITE_KEY not in value and "AccountKey=" not in value, name


@pytest.mark.parametrize("delivery", ["stream", "sas"])
def test_full_flow_with_managed_identity_only(
    identity_env: AppEnv, worker: WorkerProcess, emulator: ManagedIdentityEmulator, log_dir: Path, ca_bundle: Path,
    delivery: str,
) -> None:  # fmt: skip
    web = WebProcess(identity_env, log_dir, extra_env={"PHOTO_DELIVERY": delivery})
    assert_no_secrets(web.env)
    assert_no_secrets(worker.env)
    web.start(timeout=60)
    try:
        ready = httpx.get(f"{web.url}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        restaurant_id = create_restaurant(web.url, f"Keyless {delivery}")
        photo_ids = post_review(
            web.url, restaurant_id, [("a.jpg", imagefactory.jpeg(1600, 1200)), ("b.png", imagefactory.png(200, 100))]
        )
        results = wait_for_photos(web.url, photo_ids, timeout=90)
        assert {body["status"] for body in results.values()} == {"ready"}
        url = web.url + results[photo_ids[0]]["urls"]["1280"]
        if delivery == "stream":
            response = httpx.get(url, timeout=10)
        else:
            redirect = httpx.get(url, timeout=10)
            assert redirect.status_code == 307
            sas_url = redirect.headers["location"]
            assert "sig=" in sas_url and "sp=r" in sas_url and "skoid=" in sas_url  # a user-delegation SAS
            response = httpx.get(sas_url, timeout=10, verify=ssl.create_default_context(cafile=str(ca_bundle)))
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.content)).size == (1280, 960)
    finally:
        web_pids = process_tree(web.proc.pid) if web.proc else set()
        web.stop()

    client_id = emulator.default_identity.client_id
    worker_pids = process_tree(worker.proc.pid) if worker.proc else set()
    for pids, who in ((web_pids, "web"), (worker_pids, "worker")):
        asked = [r for r in emulator.requests if r.pid in pids and r.status == 200]
        assert {r.resource for r in asked} >= {STORAGE_RESOURCE, POSTGRES_RESOURCE}, who
        assert {r.client_id for r in asked} == {client_id}, who
