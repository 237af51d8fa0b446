"""Browse benchmark: what each page costs as the data grows, against a floor measured in the same run.

    uv run python bench/browse.py [--scale small|default|large] [--requests 200] [--write-baseline REF]

For the small scale and the chosen one (default: 50k restaurants, 1M reviews, 500k photos; large: 200k /
10M / 5M; small: 1k / 20k / 10k; one restaurant always holds a twentieth of the reviews) it seeds a fresh
database with COPY, starts the web service under gunicorn with its production config (2 workers), and
for each page prints the SQL statements it sends (counted in-process), p50/p95 over `--requests` sequential
requests through gunicorn, the ratio of its p95 to the floor's p95 and the growth of its p95 against the
small scale. The floor is `GET /api/photos/<id>`: the same stack answering with one primary-key lookup.

Then the write path: 50 clients posting reviews to one restaurant at the same time (the row lock on the
restaurant serialises its counters). With `--write-baseline REF` (a git revision, e.g. the commit before the
stored aggregates) the same load runs against that revision's code and schema too, in the same run, and the
ratio after/before is printed.

Goals: every page's p95 ≤ 2 × the floor's and ≤ 3 statements; growth ≤ 1.3; writes ≥ 0.9 × before.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # `python bench/browse.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(REPO_ROOT))

import psycopg2  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.load import cpu_seconds  # noqa: E402
from restaurant_web.app import create_app  # noqa: E402
from tests.fixtures.processes import VENV_BIN, WebProcess  # noqa: E402
from tests.fixtures.seed import SCALES, Seeded, seed  # noqa: E402
from tests.fixtures.services import Azurite, PostgresServer, RedisServer  # noqa: E402
from tests.fixtures.stack import AppEnv, migrate, recreate_database  # noqa: E402

SORTS = ("newest", "rating", "reviews", "name")
DEEP_FOLLOWS = 250
PAGE_SIZE = 12  # the list page's own
WRITERS = 50
WRITE_POSTS = 1000
WRITE_ROUNDS = 5


@dataclass
class Timing:
    statements: int
    p50: float
    p95: float


def percentile(samples: list[float], p: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[p - 1]


def base_env(postgres: PostgresServer, redis: RedisServer, azurite: Azurite) -> AppEnv:
    return AppEnv(
        {
            "POSTGRES_HOST": postgres.host,
            "POSTGRES_PORT": str(postgres.port),
            "POSTGRES_DB": "postgres",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "postgres",
            "POSTGRES_SSLMODE": "disable",
            "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "CELERY_BROKER_URL": redis.url,
            "RATE_LIMIT_REVIEWS": "",  # every client shares one address here
            "LOG_LEVEL": "WARNING",
        }
    )


def seeded_database(env: AppEnv, scale_name: str) -> tuple[AppEnv, Seeded]:
    env = recreate_database(env, f"browse_{scale_name}")
    migrate(env, "upgrade", "head")
    started = time.monotonic()
    conn = psycopg2.connect(AppEnv.database_url(env.settings()).replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    try:
        data = seed(conn, SCALES[scale_name])
    finally:
        conn.close()
    scale = data.scale
    print(
        f"  seeded {scale.restaurants:,} restaurants, {scale.reviews:,} reviews, {scale.photos:,} photos "
        f"(busiest restaurant: {scale.busiest_reviews:,} reviews) in {time.monotonic() - started:.0f} s",
        flush=True,
    )
    return env, data


def page_urls(http: httpx.Client, data: Seeded) -> dict[str, str]:
    urls = {f"list, {sort}": f"/?sort={sort}" for sort in SORTS}
    url: str | None = f"/api/restaurants?limit={PAGE_SIZE}"
    follows = 0
    cursor = ""
    while url and follows < DEEP_FOLLOWS:
        url = http.get(url).json()["next"]
        if url:
            follows += 1
            cursor = url.split("cursor=")[1]
    print(f"  deep page: page {follows + 1}, reached by following next {follows} times", flush=True)
    urls["list, deep page"] = f"/?cursor={cursor}"
    urls[f"search “{data.search_term}”"] = f"/?q={data.search_term}"
    urls["busiest restaurant"] = f"/restaurants/{data.busiest_restaurant_id}"
    urls["busiest restaurant, API"] = f"/api/restaurants/{data.busiest_restaurant_id}"
    urls["floor: /api/photos/<id>"] = f"/api/photos/{data.photo_id}"
    return urls


def count_statements(env: AppEnv, urls: dict[str, str]) -> dict[str, int]:
    """The statements each page sends, counted inside an instance of the app (the same code gunicorn runs)."""
    app = create_app(env.settings())
    counts: dict[str, int] = {}
    with TestClient(app) as client:
        engine = app.state.services.db.engine
        for name, url in urls.items():
            seen: list[str] = []

            def record(*args: Any, seen: list[str] = seen) -> None:
                seen.append(args[2])

            client.get(url)  # warm the pool, so its first connect is not counted
            event.listen(engine, "before_cursor_execute", record)
            assert client.get(url).status_code == 200, url
            event.remove(engine, "before_cursor_execute", record)
            counts[name] = len(seen)
    return counts


def time_pages(base_url: str, urls: dict[str, str], requests: int) -> dict[str, tuple[float, float]]:
    """p50/p95 per page in ms. The pages take turns, request by request, so a busy moment of the machine
    falls on all of them alike rather than on whichever page was being measured then."""
    samples: dict[str, list[float]] = {name: [] for name in urls}
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for _ in range(20):
            for url in urls.values():
                http.get(url)
        for _ in range(requests):
            for name, url in urls.items():
                started = time.perf_counter()
                response = http.get(url)
                samples[name].append(time.perf_counter() - started)
                assert response.status_code == 200, (url, response.status_code)
    return {name: (percentile(s, 50) * 1000, percentile(s, 95) * 1000) for name, s in samples.items()}


def measure_scale(env: AppEnv, scale_name: str, workdir: Path, requests: int) -> dict[str, Timing]:
    print(f"\n[{scale_name}] seeding...", flush=True)
    env, data = seeded_database(env, scale_name)
    web = WebProcess(env, workdir, workers=2).start()
    try:
        with httpx.Client(base_url=web.url, timeout=60) as http:
            urls = page_urls(http, data)
        counts = count_statements(env, urls)
        timings = time_pages(web.url, urls, requests)
    finally:
        web.stop()
    return {name: Timing(counts[name], *timings[name]) for name in urls}


def report(scale_name: str, results: dict[str, Timing], small: dict[str, Timing] | None) -> None:
    floor = results["floor: /api/photos/<id>"].p95
    print(f"\n=== {scale_name}: p95 against the floor's p95 ({floor:.2f} ms) and against the small scale ===")
    print(f"{'page':<36} {'SQL':>4} {'p50 ms':>8} {'p95 ms':>8} {'/floor':>7} {'growth':>7}")
    for name, timing in results.items():
        growth = f"{timing.p95 / small[name].p95:.2f}" if small is not None else ""
        print(
            f"{name:<36} {timing.statements:>4} {timing.p50:>8.2f} {timing.p95:>8.2f} "
            f"{timing.p95 / floor:>7.2f} {growth:>7}"
        )


def write_path(web: WebProcess, label: str) -> tuple[float, float]:
    """Posts per second with WRITERS clients posting WRITE_POSTS reviews to one restaurant at once, and the
    web processes' CPU per post in ms (steadier than the rate, which shares two cores with the clients)."""
    assert web.proc is not None
    base_url = web.url
    with httpx.Client(base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=WRITERS + 5)) as http:
        restaurant = http.post("/api/restaurants", json={"name": f"Hot {label}"}).json()["id"]

        def post(i: int) -> int:
            response = http.post(
                f"/api/restaurants/{restaurant}/reviews",
                data={"user_name": "Writer", "rating": str(1 + i % 5), "review_text": "a busy evening"},
                files=[],
            )
            return response.status_code

        with ThreadPoolExecutor(WRITERS) as pool:
            list(pool.map(post, range(WRITERS)))  # warm-up
            cpu_before = cpu_seconds(web.proc.pid)
            started = time.perf_counter()
            statuses = list(pool.map(post, range(WRITE_POSTS)))
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(web.proc.pid) - cpu_before
    assert all(status == 201 for status in statuses), set(statuses)
    return WRITE_POSTS / elapsed, cpu / WRITE_POSTS * 1000


def old_web(env: AppEnv, ref: str, workdir: Path) -> tuple[WebProcess, Path]:
    """The web service of git revision `ref`, on its own database migrated by that revision's code."""
    tree = workdir / "before"
    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(tree), ref], check=True,
                   capture_output=True)  # fmt: skip
    path = ":".join(str(tree / part) for part in ("shared", "services/web", "services/worker"))
    old_env = recreate_database(env, "browse_write_before")
    subprocess.run([sys.executable, "-m", "restaurant_shared.migrate", "upgrade", "head"], check=True, cwd=tree,
                   env=old_env.process_env(PYTHONPATH=path), capture_output=True)  # fmt: skip
    web = WebProcess(old_env, workdir, workers=2, extra_env={"PYTHONPATH": path})
    web.command = [str(VENV_BIN / "gunicorn"), "-c", str(tree / "services/web/gunicorn.conf.py")]
    web.log_path = workdir / "web-before.log"
    return web.start(), tree


def measure_writes(env: AppEnv, workdir: Path, baseline_ref: str | None) -> None:
    print(f"\n=== write path: {WRITERS} clients, {WRITE_POSTS} reviews of one restaurant ===", flush=True)
    new_env = recreate_database(env, "browse_write_after")
    migrate(new_env, "upgrade", "head")
    after_web = WebProcess(new_env, workdir, workers=2).start()
    before_web, tree = old_web(env, baseline_ref, workdir) if baseline_ref else (None, None)
    try:
        after: list[tuple[float, float]] = []
        before: list[tuple[float, float]] = []
        for round_number in range(WRITE_ROUNDS):  # alternate, so both see the same machine
            after.append(write_path(after_web, f"after {round_number}"))
            if before_web is not None:
                before.append(write_path(before_web, f"before {round_number}"))
    finally:
        after_web.stop()
        if before_web is not None:
            before_web.stop()
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(tree)], check=False)

    def rounds(runs: list[tuple[float, float]]) -> str:
        rates = [rate for rate, _ in runs]
        cpu = statistics.median(ms for _, ms in runs)
        listed = ", ".join(f"{rate:.0f}" for rate in rates)
        return f"{statistics.median(rates):.0f} reviews/s (rounds: {listed}), web CPU {cpu:.2f} ms per review"

    print(f"after  (this tree): {rounds(after)}")
    if before:
        print(f"before ({baseline_ref}): {rounds(before)}")
        rate = statistics.median(r for r, _ in after) / statistics.median(r for r, _ in before)
        cpu = statistics.median(c for _, c in before) / statistics.median(c for _, c in after)
        print(f"after/before: throughput {rate:.2f}, web CPU per review (before/after) {cpu:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("small", "default", "large"), default="default")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (at least 200)")
    parser.add_argument("--write-baseline", metavar="REF", help="git revision to compare the write path with")
    args = parser.parse_args()
    requests = max(200, args.requests)
    with tempfile.TemporaryDirectory(prefix="bench-browse-") as tmp:
        workdir = Path(tmp)
        postgres, redis, azurite = (
            PostgresServer(workdir / "pg"),
            RedisServer(workdir / "redis"),
            Azurite(workdir / "az"),
        )
        for server in (postgres, redis, azurite):
            server.start()
        try:
            env = base_env(postgres, redis, azurite)
            small = measure_scale(env, "small", workdir, requests)
            chosen = measure_scale(env, args.scale, workdir, requests) if args.scale != "small" else None
            report("small", small, None)
            if chosen is not None:
                report(args.scale, chosen, small)
            measure_writes(env, workdir, args.write_baseline)
        finally:
            for server in (azurite, redis, postgres):
                server.stop()


if __name__ == "__main__":
    main()
