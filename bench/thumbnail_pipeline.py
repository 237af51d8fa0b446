"""The thumbnail benchmark's sections that need the real services (bench/thumbnails.py runs them).

* task  - the whole task path per photo: claim the row, get the raw blob, make_thumbnails, put the
          thumbnails, mark it ready; against Postgres and Azurite, in one process pinned to one CPU
* scale - photos/s through real Celery workers (Redis broker) with 1 and with 2 worker processes

The services are throwaway instances started here (the same classes the tests use).
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import psutil
from sqlalchemy import text

from restaurant_shared.blobstore import BlobStore, raw_blob_name
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from restaurant_shared.taskqueue import create_celery, enqueue_thumbnails
from restaurant_worker.processing import process_photo
from tests.fixtures.processes import WorkerProcess
from tests.fixtures.services import Azurite, PostgresServer, RedisServer
from tests.fixtures.stack import AppEnv, migrate


class Stack(AppEnv):
    """The app's environment, plus the service processes whose CPU time the scale section reports."""

    service_pids: tuple[int, ...] = ()
    azurite: Azurite | None = None

    def fresh_storage(self) -> None:
        """Restart Azurite (same ports) with no data, so a run does not pay for what earlier runs stored."""
        assert self.azurite is not None
        old_pid = self.azurite.pid
        self.azurite.restart_empty()
        others = tuple(pid for pid in self.service_pids if pid != old_pid)
        self.service_pids = (*others, self.azurite.pid) if self.azurite.pid is not None else others

    def service_cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.service_pids:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for process in (root, *root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        times = process.cpu_times()
                        total += times.user + times.system
        return total


@contextlib.contextmanager
def running_stack(azurite_dir: Path | None = None) -> Iterator[Stack]:
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as workdir:
        root = Path(workdir)
        postgres, redis = PostgresServer(root / "pg"), RedisServer(root / "redis")
        azurite = Azurite(azurite_dir or root / "azurite")
        for server in (postgres, redis, azurite):
            server.start()
        try:
            postgres.create_database("bench")
            env = Stack(
                {
                    "POSTGRES_HOST": postgres.host,
                    "POSTGRES_PORT": str(postgres.port),
                    "POSTGRES_DB": "bench",
                    "POSTGRES_USER": "postgres",
                    "POSTGRES_PASSWORD": "unused",
                    "POSTGRES_SSLMODE": "disable",
                    "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
                    "CELERY_BROKER_URL": redis.url,
                    "LOG_LEVEL": "WARNING",
                }
            )
            migrate(env, "upgrade", "head")
            env.azurite = azurite
            env.service_pids = tuple(
                pid for pid in (postgres._postmaster_pid(), redis.pid, azurite.pid) if pid is not None
            )
            yield env
        finally:
            for server in (azurite, redis, postgres):
                server.stop()


def bench_settings(env: AppEnv, sizes: tuple[int, ...], quality: int) -> Settings:
    return env.settings(THUMBNAIL_SIZES=",".join(map(str, sizes)), THUMBNAIL_QUALITY=str(quality))


def add_pending_photos(db: Database, store: BlobStore, photos: list[bytes], copies: int) -> list[uuid.UUID]:
    """Store `copies` rounds of the photos as uploads with pending rows, as the web app would."""
    ids: list[uuid.UUID] = []
    with db.transaction() as session:
        restaurant_id = session.execute(text("INSERT INTO restaurant (name) VALUES ('Bench') RETURNING id")).scalar()
        for _ in range(copies):
            for start in range(0, len(photos), 5):  # at most 5 photos per review
                review_id = session.execute(
                    text("INSERT INTO review (restaurant_id, user_name, rating) VALUES (:r, 'bench', 5) RETURNING id"),
                    {"r": restaurant_id},
                ).scalar()
                for position, photo in enumerate(photos[start : start + 5]):
                    photo_id = uuid.uuid4()
                    store.put_raw(raw_blob_name(photo_id), photo, "image/jpeg")
                    session.execute(
                        text(
                            "INSERT INTO photo (id, review_id, position, content_type, size_bytes) "
                            "VALUES (:id, :review, :position, 'image/jpeg', :size)"
                        ),
                        {"id": photo_id, "review": review_id, "position": position, "size": len(photo)},
                    )
                    ids.append(photo_id)
    return ids


def _task_here(
    env: AppEnv, photos: list[bytes], sizes: tuple[int, ...], quality: int, runs: int
) -> tuple[float, float, float]:
    from bench.thumbnails import current_rss_mb, peak_rss_mb, pin_to_one_cpu, reset_peak_rss

    pin_to_one_cpu()
    settings = bench_settings(env, sizes, quality)
    db, store = Database(settings), BlobStore.from_settings(settings)
    store.ensure_containers()
    rounds = [add_pending_photos(db, store, photos, 1) for _ in range(runs + 1)]
    for photo_id in rounds[0]:  # warm-up: connections, imports, caches
        process_photo(db, store, settings, photo_id)
    reset_peak_rss()
    before = current_rss_mb()
    run_ms = []
    for ids in rounds[1:]:
        started = time.perf_counter()
        for photo_id in ids:
            assert process_photo(db, store, settings, photo_id).status == "ready"
        run_ms.append((time.perf_counter() - started) * 1000 / len(ids))
    peak = peak_rss_mb()
    db.dispose()
    return statistics.median(run_ms), peak, peak - before


def measure_task(
    env: AppEnv, photos: list[bytes], sizes: tuple[int, ...], quality: int, runs: int
) -> tuple[float, float, float]:
    """(median ms/photo, peak RSS MB, RSS growth MB) of the task path in a process pinned to one CPU."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_task_here, env, photos, sizes, quality, runs).result()


def measure_scale(
    env: Stack, photos: list[bytes], sizes: tuple[int, ...], quality: int, processes: int, per_process: int
) -> tuple[float, float, float]:
    """(photos/s, peak RSS MB of the worker's processes, CPU ms per photo spent by Postgres, Redis and
    Azurite meanwhile) through a real Celery worker with `processes` pool processes, the queue filled
    at once."""
    settings = bench_settings(env, sizes, quality)
    db, store = Database(settings), BlobStore.from_settings(settings)
    store.ensure_containers()
    celery = create_celery(settings)
    worker_env = env.with_(THUMBNAIL_SIZES=",".join(map(str, sizes)), THUMBNAIL_QUALITY=str(quality))
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as logs:
        worker = WorkerProcess(worker_env, Path(logs), concurrency=processes, name=f"bench{processes}").start(
            timeout=60
        )
        try:
            warm = add_pending_photos(db, store, photos[:1], processes)
            for photo_id in warm:
                enqueue_thumbnails(celery, photo_id)
            wait_ready(db, warm, worker)
            copies = max(1, per_process * processes // len(photos))
            ids = add_pending_photos(db, store, photos, copies)
            cpu_before = env.service_cpu_seconds()
            started = time.perf_counter()
            for photo_id in ids:
                enqueue_thumbnails(celery, photo_id)
            peak = wait_ready(db, ids, worker)
            elapsed = time.perf_counter() - started
            service_ms = (env.service_cpu_seconds() - cpu_before) * 1000 / len(ids)
            return len(ids) / elapsed, peak, service_ms
        finally:
            worker.stop()
            db.dispose()


def wait_ready(db: Database, ids: list[uuid.UUID], worker: WorkerProcess, timeout: float = 300) -> float:
    """Wait until every photo is ready; returns the peak RSS (MB) of the worker's process tree meanwhile."""
    assert worker.proc is not None
    tree = psutil.Process(worker.proc.pid)
    peak = 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            processes = [tree, *tree.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in processes) / 2**20)
        with db.session() as session:
            left = session.execute(
                text("SELECT count(*) FROM photo WHERE id = ANY(:ids) AND status <> 'ready'"), {"ids": ids}
            ).scalar()
        if left == 0:
            return peak
        time.sleep(0.02)
    raise TimeoutError(f"{left} photos not ready after {timeout} s")
