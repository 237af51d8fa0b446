"""Load benchmark: N concurrent clients post reviews with a real 2-4 MB photo for T seconds.

    uv run python bench/load.py [--clients 50] [--seconds 60] [--url http://host:port]
    uv run python bench/load.py --upload-ratio     # web API vs direct SDK upload of a 4 MB photo, 4 clients

Without --url it starts its own Postgres, Redis, Azurite, the web service under gunicorn with the production
config and a Celery worker (the test suite's fixture classes), so the figures are those of the real stack.
It first runs one client alone (up to 10 s) as the baseline, then the N clients; for each it prints
requests/s, latency percentiles and errors, waits for the queue to drain and prints how many photos reached
`ready` and how long that took, and finally the ratios of the load run to the baseline. 0 errors and 0 lost
photos are the bar.
tests/reliability/test_soak.py runs the same code for 10 clients x 10 s and asserts that bar.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python bench/load.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO_ROOT))

from tests.worker import imagefactory  # noqa: E402


@dataclass
class LoadResult:
    clients: int
    seconds: float
    photo_bytes: int
    latencies: list[float] = field(default_factory=list)  # of successful posts, in seconds
    errors: Counter[str] = field(default_factory=Counter)
    photo_ids: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    ready: int = 0
    failed: int = 0
    unfinished: int = 0
    drain_seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else 0.0
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[round(p) - 1]

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def report(self) -> str:
        rate = self.rate
        upload_mb_s = len(self.latencies) * self.photo_bytes / self.elapsed / 1e6 if self.elapsed else 0.0
        lines = [
            f"clients {self.clients}, {self.seconds:g} s, photo {self.photo_bytes / 1e6:.2f} MB",
            f"requests        {self.requests} ({rate:.1f}/s, {upload_mb_s:.1f} MB/s of photos accepted)",
            f"latency         p50 {self.percentile(50) * 1000:.0f} ms, p95 {self.percentile(95) * 1000:.0f} ms, "
            f"p99 {self.percentile(99) * 1000:.0f} ms",
            f"errors          {sum(self.errors.values())} {dict(self.errors) if self.errors else ''}".rstrip(),
            f"photos accepted {len(self.photo_ids)}",
            f"photos ready    {self.ready} (failed {self.failed}, lost {self.unfinished})",
            f"queue drained   {self.drain_seconds:.1f} s after the load stopped",
        ]
        return "\n".join(lines)


def make_photo(seed: int = 0) -> bytes:
    """A 3264x2448 (8 MP) photo-like JPEG of about 2.4 MB, like a phone's."""
    return imagefactory.encode_jpeg(imagefactory.photo(3264, 2448, seed=seed, grain=30), quality=90)


async def _client(
    http: httpx.AsyncClient, restaurant_id: int, photo: bytes, deadline: float, result: LoadResult, budget: list[int]
) -> None:
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        started = time.monotonic()
        try:
            response = await http.post(
                f"/api/restaurants/{restaurant_id}/reviews",
                data={"user_name": "Load", "rating": "4", "review_text": "benchmark"},
                files=[("photos", ("load.jpg", photo, "image/jpeg"))],
            )
        except httpx.HTTPError as exc:
            result.errors[type(exc).__name__] += 1
            continue
        if response.status_code == 201:
            result.latencies.append(time.monotonic() - started)
            result.photo_ids.extend(photo["id"] for photo in response.json()["photos"])
        else:
            result.errors[f"HTTP {response.status_code}"] += 1


async def _drain(http: httpx.AsyncClient, result: LoadResult, timeout: float) -> None:
    pending = set(result.photo_ids)
    started = time.monotonic()
    while pending and time.monotonic() - started < timeout:
        batch = list(pending)[:200]
        answers = await asyncio.gather(*(http.get(f"/api/photos/{photo_id}") for photo_id in batch))
        for photo_id, answer in zip(batch, answers, strict=True):
            status = answer.json()["status"] if answer.status_code == 200 else "unknown"
            if status == "ready":
                result.ready += 1
                pending.discard(photo_id)
            elif status == "failed":
                result.failed += 1
                pending.discard(photo_id)
        if pending and len(batch) == len(pending):
            await asyncio.sleep(0.5)
    result.drain_seconds = time.monotonic() - started
    result.unfinished = len(pending)


async def run_load(
    base_url: str,
    *,
    clients: int,
    seconds: float,
    photo: bytes,
    drain_timeout: float = 600,
    posts: int | None = None,
) -> LoadResult:
    """Post reviews from `clients` concurrent clients for `seconds` (or until `posts` have been sent), then
    wait for every photo to finish."""
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    timeout = httpx.Timeout(120, connect=10)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as http:
        created = await http.post("/api/restaurants", json={"name": f"Load test {time.strftime('%H:%M:%S')}"})
        created.raise_for_status()
        result = LoadResult(clients=clients, seconds=seconds, photo_bytes=len(photo))
        started = time.monotonic()
        deadline = started + seconds
        budget = [posts if posts is not None else sys.maxsize]
        restaurant_id = created.json()["id"]
        await asyncio.gather(*(_client(http, restaurant_id, photo, deadline, result, budget) for _ in range(clients)))
        result.elapsed = time.monotonic() - started
        await _drain(http, result, drain_timeout)
    return result


UPLOAD_PHOTO_BYTES = 4_000_000


def upload_photo() -> bytes:
    """A 4 MB JPEG: an 8 MP photo padded with zeros after its end marker (legal, and kept as sent)."""
    photo = make_photo(seed=1)
    return photo + b"\0" * max(0, UPLOAD_PHOTO_BYTES - len(photo))


def direct_uploads(connection_string: str, photo: bytes, clients: int, photos: int) -> float:
    """Photos per second that `clients` threads put straight into Blob with the SDK, one Put Blob each,
    `photos` in all."""
    import itertools
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(connection_string).get_container_client("uploads")
    tickets = itertools.count()  # next() on it is atomic under the GIL

    def upload(_: int) -> None:
        while next(tickets) < photos:
            container.upload_blob(str(uuid.uuid4()), photo, overwrite=True, length=len(photo))

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(upload, range(clients)))
    return photos / (time.monotonic() - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn's master and workers)."""
    import psutil

    process = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])


def fresh_storage(azurite: Any) -> None:
    """Restart Azurite (same ports) with no data and the uploads container only."""
    from azure.storage.blob import BlobServiceClient

    azurite.restart_empty()
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container("uploads")


def upload_ratio(url: str, azurite: Any, clients: int, photos: int, pairs: int, web_pid: int) -> None:
    """The web API's upload throughput against the SDK's for the same bytes to the same Azurite, with the CPU
    the web processes and Azurite spend per photo (on one machine they share its cores).

    Azurite slows down as data piles up (on a disk, once the kernel throttles its writes), which a fixed order
    would charge to whichever mode always went second. So every round uploads the same number of photos into
    an Azurite started afresh, and rounds come in pairs, each in the order the last one ended with (direct,
    web, web, direct, ...).
    """
    photo = upload_photo()
    connection_string = azurite.connection_string
    rates: dict[str, list[float]] = {"web": [], "direct": []}
    cpu: dict[str, list[tuple[float, float]]] = {"web": [], "direct": []}
    for pair in range(pairs):
        for mode in ("direct", "web") if pair % 2 == 0 else ("web", "direct"):
            fresh_storage(azurite)
            azurite_pid = azurite.pid
            before = (cpu_seconds(web_pid), cpu_seconds(azurite_pid))
            if mode == "direct":
                rate = direct_uploads(connection_string, photo, clients, photos)
            else:
                run = asyncio.run(
                    run_load(url, clients=clients, seconds=3600, photo=photo, drain_timeout=0, posts=photos)
                )
                if run.errors:
                    raise SystemExit(f"web upload errors: {dict(run.errors)}")
                rate = len(run.latencies) / run.elapsed
            after = (cpu_seconds(web_pid), cpu_seconds(azurite_pid))
            rates[mode].append(rate)
            cpu[mode].append(((after[0] - before[0]) / photos * 1000, (after[1] - before[1]) / photos * 1000))
    print(f"\n--- upload of a {len(photo) / 1e6:.1f} MB photo, {clients} clients, {pairs} pairs of rounds, "
          f"{photos} photos per round ---")  # fmt: skip
    for mode, label in (("web", "web API (review with one photo)"), ("direct", "direct SDK upload_blob        ")):
        web_ms = statistics.median(c[0] for c in cpu[mode])
        azurite_ms = statistics.median(c[1] for c in cpu[mode])
        listed = ", ".join(f"{r:.1f}" for r in rates[mode])
        print(f"{label}  {statistics.median(rates[mode]):5.1f} photos/s (rounds: {listed}); CPU per photo: "
              f"web {web_ms:.1f} ms, Azurite {azurite_ms:.1f} ms")  # fmt: skip
    per_pair = [web / direct for web, direct in zip(rates["web"], rates["direct"], strict=True)]
    print(f"web/direct per pair: {', '.join(f'{ratio:.2f}' for ratio in per_pair)}")
    print(f"web/direct: {statistics.median(rates['web']) / statistics.median(rates['direct']):.2f} (medians)")


@contextlib.contextmanager
def azurite_location(workdir: Path, planned_bytes: int) -> Iterator[Path]:
    """Where a bench's Azurite keeps its data: memory (/dev/shm) when it has room for the run's uploads twice
    over, so that the disk's write-back (the kernel throttles writers after a few GB) is not what the bench
    measures; `workdir` otherwise."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and shutil.disk_usage(shm).free > 2 * planned_bytes):
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="bench-azurite-", dir=shm) as location:
        yield Path(location)


def _start_stack(
    workdir: Path, web_workers: int, worker_concurrency: int, with_worker: bool = True, azurite_dir: Path | None = None
) -> tuple[list[Any], str, str]:
    from sqlalchemy import create_engine, text

    from tests.fixtures.processes import WebProcess, WorkerProcess
    from tests.fixtures.services import Azurite, PostgresServer, RedisServer
    from tests.fixtures.stack import AppEnv, migrate

    postgres, redis = PostgresServer(workdir / "pg"), RedisServer(workdir / "redis")
    azurite = Azurite(azurite_dir or workdir / "az")
    for server in (postgres, redis, azurite):
        server.start()
    engine = create_engine(postgres.admin_dsn(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE DATABASE reviews_load"))
    engine.dispose()
    env = AppEnv(
        {
            "POSTGRES_HOST": postgres.host,
            "POSTGRES_PORT": str(postgres.port),
            "POSTGRES_DB": "reviews_load",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "postgres",
            "POSTGRES_SSLMODE": "disable",
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "CELERY_BROKER_URL": redis.url,
            "MAX_UPLOAD_BYTES": str(10 * 1024 * 1024),
            "RATE_LIMIT_REVIEWS": "",  # every client shares one address here
            "LOG_LEVEL": "WARNING",
        }
    )
    migrate(env, "upgrade", "head")
    web = WebProcess(env, workdir, workers=web_workers).start()
    if not with_worker:
        return [web, azurite, redis, postgres], web.url, azurite.connection_string
    worker = WorkerProcess(env, workdir, concurrency=worker_concurrency).start()
    return [worker, web, azurite, redis, postgres], web.url, azurite.connection_string


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--url", help="a running web service; default: start the whole stack here")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument(
        "--upload-ratio",
        action="store_true",
        help="instead: compare the web API's upload throughput for a 4 MB photo with direct SDK uploads "
        "(4 clients unless --clients is given; no worker runs meanwhile)",
    )
    parser.add_argument("--pairs", type=int, default=4, help="--upload-ratio: pairs of rounds (direct, web)")
    parser.add_argument("--photos-per-round", type=int, default=100, help="--upload-ratio: photos in each round")
    args = parser.parse_args()
    if args.upload_ratio:
        clients = args.clients if "--clients" in sys.argv else 4
        planned = args.photos_per_round * UPLOAD_PHOTO_BYTES  # per round: each starts with an empty Azurite
        with (
            tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp,
            azurite_location(Path(tmp) / "az", planned) as azurite_dir,
        ):
            print(f"Azurite keeps its data in {azurite_dir} ({planned / 1e9:.1f} GB per round)", flush=True)
            started, url, _ = _start_stack(Path(tmp), args.web_workers, 0, with_worker=False, azurite_dir=azurite_dir)
            try:
                upload_ratio(url, started[1], clients, args.photos_per_round, args.pairs, started[0].proc.pid)
            finally:
                for process in started:
                    process.stop()
        return

    photo = make_photo()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        started = []
        url = args.url
        try:
            if url is None:
                print("starting Postgres, Redis, Azurite, web (gunicorn) and worker (Celery)...", flush=True)
                started, url, _ = _start_stack(Path(tmp), args.web_workers, args.worker_concurrency)
            baseline_seconds = min(10.0, args.seconds)
            print(f"baseline: one client posting for {baseline_seconds:g} s...", flush=True)
            baseline = asyncio.run(run_load(url, clients=1, seconds=baseline_seconds, photo=photo))
            print(f"posting reviews to {url} for {args.seconds:g} s from {args.clients} clients...", flush=True)
            result = asyncio.run(run_load(url, clients=args.clients, seconds=args.seconds, photo=photo))
        finally:
            for process in started:
                process.stop()
    print("\n--- baseline: one client ---")
    print(baseline.report())
    print(f"\n--- load: {args.clients} clients ---")
    print(result.report())
    print(
        f"\nagainst one client: throughput x{result.rate / baseline.rate:.2f}, "
        f"p50 latency x{result.percentile(50) / baseline.percentile(50):.2f}"
    )
    clean = all(not run.errors and not run.unfinished and run.failed == 0 for run in (baseline, result))
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
