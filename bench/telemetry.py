"""Telemetry overhead: upload and thumbnail throughput with telemetry on (OTLP to a local receiver) and off.

    uv run python bench/telemetry.py [--rounds 2] [--seconds 8] [--clients 4] [--photos 48]

Starts Postgres, Redis and Azurite once, then alternates off/on runs (so drift on a shared machine hits both
alike; each run starts with an empty Azurite, which slows down as data piles up) of:

* upload    - concurrent clients posting reviews with a real 2.4 MB photo to web under gunicorn (no worker
              running, so only the request path is measured); reviews/s
* thumbnail - a Celery worker (2 processes) turning a queue of pending photos into thumbnails; photos/s

"on" exports every span, metric and log over OTLP/HTTP with the SDK's default batching to a receiver in a
process of its own (in this one, it would take the GIL from the load clients and slow them, not the app).
It prints the median of each mode and the ratio on/off (the goal is >= 0.95 for both), and the web CPU per review
in each mode, export included: steadier than throughput on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/telemetry.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from bench.load import azurite_location, cpu_seconds, make_photo, run_load  # noqa: E402
from bench.thumbnail_pipeline import Stack, add_pending_photos, running_stack, wait_ready  # noqa: E402
from restaurant_shared.blobstore import BlobStore  # noqa: E402
from restaurant_shared.db import Database  # noqa: E402
from restaurant_shared.taskqueue import create_celery, enqueue_thumbnails  # noqa: E402
from tests.fixtures.processes import WebProcess, WorkerProcess  # noqa: E402

MODES = ("off", "on")

# Counts requests only (no decoding), prints its endpoint, then the counts once its stdin closes.
_RECEIVER = """
import json, sys
from tests.fixtures.otlp import OtlpReceiver
receiver = OtlpReceiver(decode=False).start()
print(receiver.endpoint, flush=True)
sys.stdin.read()
print(json.dumps(receiver.requests), flush=True)
"""


class ReceiverProcess:
    """The test suite's OTLP receiver, run in a child process."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _RECEIVER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._proc.stdout is not None and self._proc.stdin is not None
        self.endpoint = self._proc.stdout.readline().strip()
        if not self.endpoint.startswith("http"):
            raise SystemExit("the OTLP receiver did not start")
        self.requests: dict[str, int] = {}

    def stop(self) -> None:
        out, _ = self._proc.communicate(timeout=30)
        self.requests = json.loads(out.strip().splitlines()[-1])


def mode_env(stack: Stack, mode: str, receiver: ReceiverProcess) -> Stack:
    env = Stack({**stack, "RATE_LIMIT_REVIEWS": "", "MAX_UPLOAD_BYTES": str(10 * 1024 * 1024)})
    if mode == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
    return env


# Longer than the batch processors' schedule (5 s for spans): a run's CPU then includes exporting what it made.
EXPORT_WAIT_SECONDS = 6


def upload_rate(env: Stack, logs: Path, clients: int, seconds: float, photo: bytes) -> tuple[float, float]:
    """Reviews per second, and the web's CPU milliseconds per review (its export included)."""
    web = WebProcess(env, logs, workers=2).start(timeout=60)
    try:
        asyncio.run(run_load(web.url, clients=1, seconds=1, photo=photo, drain_timeout=0))  # warm-up
        time.sleep(EXPORT_WAIT_SECONDS)
        assert web.proc is not None
        cpu_before = cpu_seconds(web.proc.pid)
        result = asyncio.run(run_load(web.url, clients=clients, seconds=seconds, photo=photo, drain_timeout=0))
        time.sleep(EXPORT_WAIT_SECONDS)
        cpu = cpu_seconds(web.proc.pid) - cpu_before
    finally:
        web.stop()
    assert not result.errors, result.errors
    return len(result.latencies) / result.elapsed, cpu / len(result.latencies) * 1000


def thumbnail_rate(env: Stack, logs: Path, photos: list[bytes], name: str) -> float:
    settings = env.settings()
    db, store = Database(settings), BlobStore.from_settings(settings)
    store.ensure_containers()
    celery = create_celery(settings)
    worker = WorkerProcess(env, logs, concurrency=2, name=name).start(timeout=60)
    try:
        warm = add_pending_photos(db, store, photos[:2], 1)
        for photo_id in warm:
            enqueue_thumbnails(celery, photo_id)
        wait_ready(db, warm, worker)
        ids = add_pending_photos(db, store, photos, 1)
        started = time.perf_counter()
        for photo_id in ids:
            enqueue_thumbnails(celery, photo_id)
        wait_ready(db, ids, worker)
        return len(ids) / (time.perf_counter() - started)
    finally:
        worker.stop()
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8, help="length of each upload run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--photos", type=int, default=48, help="photos per thumbnail run")
    args = parser.parse_args()

    photo = make_photo()
    photos = [make_photo(seed) for seed in range(args.photos)]
    receiver = ReceiverProcess()
    uploads: dict[str, list[float]] = {mode: [] for mode in MODES}
    upload_cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    thumbnails: dict[str, list[float]] = {mode: [] for mode in MODES}
    print("starting Postgres, Redis and Azurite...", flush=True)
    # What one run stores, generously: 80 reviews/s of one photo each, and the thumbnail run's photos.
    planned = int(80 * args.seconds * len(photo)) + 2 * sum(map(len, photos))
    with (
        tempfile.TemporaryDirectory(prefix="bench-telemetry-") as tmp,
        azurite_location(Path(tmp) / "azurite", planned) as azurite_dir,
        running_stack(azurite_dir) as stack,
    ):
        print(f"Azurite keeps its data in {azurite_dir}", flush=True)
        logs = Path(tmp)
        for round_number in range(args.rounds):
            for mode in MODES if round_number % 2 == 0 else reversed(MODES):
                stack.fresh_storage()
                env = mode_env(stack, mode, receiver)
                rate, cpu_ms = upload_rate(env, logs, args.clients, args.seconds, photo)
                uploads[mode].append(rate)
                upload_cpu[mode].append(cpu_ms)
                thumbnails[mode].append(thumbnail_rate(env, logs, photos, f"bench-{mode}-{round_number}"))
                print(
                    f"round {round_number + 1} telemetry {mode:3}: {uploads[mode][-1]:6.2f} reviews/s "
                    f"(web CPU {cpu_ms:.1f} ms per review), {thumbnails[mode][-1]:6.2f} photos/s",
                    flush=True,
                )
    receiver.stop()

    print(f"\nOTLP requests received while on: {receiver.requests}")
    print(f"{'':10} {'off':>10} {'on':>10} {'on/off':>8}")
    for label, runs, unit in (("upload", uploads, "reviews/s"), ("thumbnail", thumbnails, "photos/s")):
        off, on = statistics.median(runs["off"]), statistics.median(runs["on"])
        print(f"{label:10} {off:10.2f} {on:10.2f} {on / off:8.3f}   ({unit}, median of {args.rounds})")
    off, on = statistics.median(upload_cpu["off"]), statistics.median(upload_cpu["on"])
    print(f"{'web CPU':10} {off:10.2f} {on:10.2f} {on / off:8.3f}   (ms per review, export included; median)")
    if not receiver.requests["traces"]:
        sys.exit("telemetry was on but nothing reached the receiver")


if __name__ == "__main__":
    main()
