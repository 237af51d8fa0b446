"""Thumbnail benchmark: how close is make_thumbnails to the unavoidable work, and to naive Pillow?

    uv run python bench/thumbnails.py [--photos N] [--quick] [--sizes 320,640,1024]

Sections (each timing section runs in its own fresh process pinned to one CPU, so peak RSS is
that variant's alone and timings are single-core):

* webp    - WebP encode time / size / PSNR per ``method`` at the largest size (why WEBP_METHOD)
* floor   - JPEG decode at the draft scale of the largest thumbnail + WebP-encode every size
* naive   - Image.open -> exif_transpose -> thumbnail -> save WebP, from the original per size
* core    - make_thumbnails
* task    - the whole task path (claim row, blob get, make_thumbnails, blob puts, mark ready) against
            Postgres and Azurite started for the run (bench/thumbnail_pipeline.py)
* scale   - photos/s through real Celery workers with 1 and 2 worker processes (Redis broker)

A section is a function ``(Config, list[bytes]) -> list[Result]`` listed in SECTIONS; ``--skip`` leaves
sections out (e.g. ``--skip task,scale`` needs no services).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import itertools
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageOps, ImageStat

from restaurant_shared.settings import Settings
from restaurant_worker.thumbnails import WEBP_METHOD, make_thumbnails

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the service-backed sections reuse the test fixtures' server classes


def _load_imagefactory() -> Any:
    # Loaded by path: tests/ is not a package on sys.path, and the bench must not depend on pytest.
    spec = importlib.util.spec_from_file_location("imagefactory", ROOT / "tests/worker/imagefactory.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


imagefactory = _load_imagefactory()

BASELINE_SIZE = (4032, 3024)  # 12 MP, the most common phone-camera resolution
BASELINE_QUALITY = 90


@dataclass(frozen=True)
class Config:
    photos: int
    runs: int
    sizes: tuple[int, ...]
    quality: int = 80
    webp_method: int = WEBP_METHOD


@dataclass(frozen=True)
class Result:
    name: str
    ms_per_photo: float
    peak_rss_mb: float  # high-water RSS of the measuring process (interpreter, Pillow, photos)
    rss_growth_mb: float  # that peak minus the RSS just before the first (warm-up) photo
    note: str = ""


@dataclass
class Measurement:
    ms_per_photo: float
    peak_rss_mb: float
    rss_growth_mb: float
    run_ms: list[float] = field(default_factory=list)


# --- measurement helpers ---------------------------------------------------------------------


def pin_to_one_cpu() -> int:
    """Pin this process to a single CPU (the last allowed one) and return its number."""
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _proc_status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise LookupError(field)


def peak_rss_mb() -> float:
    """High-water RSS of this process image. Not ru_maxrss: Linux carries that over exec, so a
    spawned child would report the parent's peak (which holds the generated 12 MP photos)."""
    return _proc_status_mb("VmHWM")


def current_rss_mb() -> float:
    return _proc_status_mb("VmRSS")


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is of what follows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def median_ms_per_item(
    work: Callable[[Any, Any], object], items: list[Any], states: list[Any], runs: int
) -> tuple[float, list[float]]:
    """Median over ``runs`` of the mean time per item; one untimed warm-up pass first."""
    for item, state in zip(items, states, strict=True):
        work(item, state)
    run_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        for item, state in zip(items, states, strict=True):
            work(item, state)
        run_ms.append((time.perf_counter() - start) * 1000 / len(items))
    return statistics.median(run_ms), run_ms


def _measure_here(
    work: Callable[[bytes, Any], object],
    prepare: Callable[[bytes, Config], Any] | None,
    photos: list[bytes],
    config: Config,
) -> Measurement:
    pin_to_one_cpu()
    states = [prepare(photo, config) if prepare else config for photo in photos]
    reset_peak_rss()
    before = current_rss_mb()
    median, run_ms = median_ms_per_item(work, photos, states, config.runs)
    peak = peak_rss_mb()
    return Measurement(median, peak, peak - before, run_ms)


def measure_in_subprocess(
    work: Callable[[bytes, Any], object],
    photos: list[bytes],
    config: Config,
    prepare: Callable[[bytes, Config], Any] | None = None,
) -> Measurement:
    """Time ``work(photo, state)`` in a fresh single-CPU process; ``state = prepare(photo, config)``
    (untimed) or ``config``. Functions must be module-level so the spawned process can import them."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_measure_here, work, prepare, photos, config).result()


# --- the variants ----------------------------------------------------------------------------


def _encode_webp(image: Image.Image, config: Config) -> bytes:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=config.quality, method=config.webp_method)
    return out.getvalue()


def _floor_prepare(photo: bytes, config: Config) -> tuple[Config, list[Image.Image]]:
    # The images to encode, made untimed. Not decoded from core's WebP output: pixels that went
    # through a lossy encode once are easier to encode again, which would flatter the floor.
    with Image.open(io.BytesIO(photo)) as image:
        image.draft("RGB", (max(config.sizes),) * 2)
        upright = ImageOps.exif_transpose(image)
    outputs = []
    for size in config.sizes:
        output = upright.copy()
        output.thumbnail((size, size), Image.Resampling.LANCZOS)
        outputs.append(output)
    return config, outputs


def _floor_work(photo: bytes, state: tuple[Config, list[Image.Image]]) -> None:
    config, outputs = state
    with Image.open(io.BytesIO(photo)) as image:
        longest = max(config.sizes)
        scale = longest / max(image.size)
        image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        image.load()
    for output in outputs:
        _encode_webp(output, config)


def _naive_work(photo: bytes, config: Config) -> None:
    for size in config.sizes:
        with Image.open(io.BytesIO(photo)) as image:
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((size, size))
            _encode_webp(upright, config)


def _core_work(photo: bytes, config: Config) -> None:
    make_thumbnails(photo, config.sizes, quality=config.quality, webp_method=config.webp_method)


def _variant(name: str, work: Callable[[bytes, Any], object], note: str, prepare: Any = None) -> Callable:
    def section(config: Config, photos: list[bytes]) -> list[Result]:
        measured = measure_in_subprocess(work, photos, config, prepare)
        return [Result(name, measured.ms_per_photo, measured.peak_rss_mb, measured.rss_growth_mb, note)]

    return section


section_floor = _variant("floor", _floor_work, "draft decode + encode each size", _floor_prepare)
section_naive = _variant("naive", _naive_work, "open/exif_transpose/thumbnail/save per size")
section_core = _variant("core", _core_work, "make_thumbnails")


# --- WebP method comparison ------------------------------------------------------------------


def psnr(a: Image.Image, b: Image.Image) -> float:
    rms = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).rms
    mse = statistics.fmean(value * value for value in rms)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def _bytes_at_psnr(image: Image.Image, method: int, target: float, config: Config) -> float:
    """Bytes ``method`` needs for ``target`` PSNR, interpolated (in log bytes) between qualities.

    Interpolated rather than searched: PSNR is not monotonic in WebP quality (q81 can be worse
    than q80), which sends a bisection astray."""
    points = []
    for quality in (60, 70, 75, 80, 85, 90, 95):
        settings = Config(config.photos, config.runs, config.sizes, quality, method)
        data = _encode_webp(image, settings)
        points.append((psnr(image, Image.open(io.BytesIO(data))), math.log(len(data))))
    points.sort()
    for (low_psnr, low_log), (high_psnr, high_log) in itertools.pairwise(points):
        if low_psnr <= target <= high_psnr:
            fraction = (target - low_psnr) / (high_psnr - low_psnr) if high_psnr > low_psnr else 0.0
            return math.exp(low_log + fraction * (high_log - low_log))
    return math.nan


def _webp_methods_here(photo: bytes, config: Config) -> list[tuple[int, float, int, float, float]]:
    pin_to_one_cpu()
    with Image.open(io.BytesIO(photo)) as image:
        image.thumbnail((max(config.sizes),) * 2)
        reference = image.convert("RGB")
    chosen = Config(config.photos, config.runs, config.sizes, config.quality, config.webp_method)
    target = psnr(reference, Image.open(io.BytesIO(_encode_webp(reference, chosen))))
    rows = []
    for method in range(7):
        settings = Config(config.photos, config.runs, config.sizes, config.quality, method)
        ms, _ = median_ms_per_item(_encode_webp, [reference], [settings], config.runs)
        data = _encode_webp(reference, settings)
        rows.append(
            (
                method,
                ms,
                len(data),
                psnr(reference, Image.open(io.BytesIO(data))),
                _bytes_at_psnr(reference, method, target, config),
            )
        )
    return rows


def section_webp(config: Config, photos: list[bytes]) -> list[Result]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        rows = pool.submit(_webp_methods_here, photos[0], config).result()
    print(f"\nWebP encode of one {max(config.sizes)} px thumbnail at quality {config.quality}, per method")
    print(f"(last column: bytes at the PSNR that method {config.webp_method} reaches at q{config.quality}):")
    print(f"  {'method':>6} {'ms':>7} {'bytes':>8} {'PSNR dB':>8} {'bytes@PSNR':>11}")
    for method, ms, size, quality, matched in rows:
        chosen = "  <- WEBP_METHOD (thumbnails.py explains the choice)" if method == WEBP_METHOD else ""
        print(f"  {method:>6} {ms:>7.1f} {size:>8} {quality:>8.2f} {matched:>11.0f}{chosen}")
    return []


def section_task(config: Config, photos: list[bytes]) -> list[Result]:
    from bench import thumbnail_pipeline as pipeline

    with pipeline.running_stack() as env:
        ms, peak, growth = pipeline.measure_task(env, photos, config.sizes, config.quality, config.runs)
        results = [Result("task", ms, peak, growth, "claim + blob get + make_thumbnails + blob puts + mark ready")]
        per_process = 8 * len(photos)  # enough photos that the last one's tail does not dominate
        for processes in (1, 2):
            rate, worker_peak, service_ms = pipeline.measure_scale(
                env, photos, config.sizes, config.quality, processes, per_process
            )
            note = f"Celery worker, {processes} process(es), wall clock; services used {service_ms:.0f} CPU ms/photo"
            results.append(Result(f"scale{processes}", 1000 / rate, worker_peak, 0.0, note))
    return results


SECTIONS: dict[str, Callable[[Config, list[bytes]], list[Result]]] = {
    "webp": section_webp,
    "floor": section_floor,
    "naive": section_naive,
    "core": section_core,
    "task": section_task,  # also measures scale
}


# --- driver ----------------------------------------------------------------------------------


def baseline_photos(count: int) -> list[bytes]:
    """Deterministic 12 MP photo-like JPEGs (seed = index), EXIF orientation 6 like a phone."""
    return [
        imagefactory.jpeg(*BASELINE_SIZE, orientation=6, quality=BASELINE_QUALITY, seed=seed) for seed in range(count)
    ]


def print_summary(results: list[Result], config: Config) -> None:
    print(f"\n{'variant':<8} {'ms/photo':>9} {'photos/s':>9} {'peak RSS':>9} {'RSS +':>7}  what")
    for r in results:
        print(
            f"{r.name:<8} {r.ms_per_photo:>9.1f} {1000 / r.ms_per_photo:>9.2f} "
            f"{r.peak_rss_mb:>7.0f}MB {r.rss_growth_mb:>5.0f}MB  {r.note}"
        )
    print("peak RSS: whole process (interpreter + Pillow + input photos + floor's prepared outputs);")
    print("RSS +: growth of that peak over the RSS before the first photo, i.e. the working memory.")
    by_name = {r.name: r for r in results}
    if {"core", "task"} <= by_name.keys():
        task_core = by_name["core"].ms_per_photo / by_name["task"].ms_per_photo
        print(f"\ntask throughput / core = {task_core:.2f}  (target >= 0.80: {'ok' if task_core >= 0.8 else 'MISSED'})")
    if {"scale1", "scale2"} <= by_name.keys():
        scale = by_name["scale1"].ms_per_photo / by_name["scale2"].ms_per_photo
        print(
            f"2 processes / 1 process = {scale:.2f}  (target >= 1.80: {'ok' if scale >= 1.8 else 'MISSED'}; "
            f"{os.cpu_count()} CPUs here, shared with Postgres, Redis and Azurite)"
        )
    if {"floor", "naive", "core"} <= by_name.keys():
        core_floor = by_name["core"].ms_per_photo / by_name["floor"].ms_per_photo
        naive_core = by_name["naive"].ms_per_photo / by_name["core"].ms_per_photo
        print(f"\ncore/floor = {core_floor:.2f}  (target <= 1.30: {'ok' if core_floor <= 1.3 else 'MISSED'})")
        print(f"naive/core = {naive_core:.2f}  (target >= 1.50: {'ok' if naive_core >= 1.5 else 'MISSED'})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2, help="distinct baseline photos (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="timed passes per variant (default 5)")
    default_sizes = ",".join(map(str, Settings.model_fields["thumbnail_sizes"].default))
    parser.add_argument("--sizes", default=default_sizes, help=f"thumbnail sizes (default: the app's, {default_sizes})")
    parser.add_argument("--skip", default="", help="sections to leave out, e.g. webp,task")
    parser.add_argument("--method", type=int, default=WEBP_METHOD, help=f"WebP method (default {WEBP_METHOD})")
    parser.add_argument("--quick", action="store_true", help="1 photo, 3 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.photos, args.runs = 1, 3
    sizes = tuple(int(s) for s in args.sizes.split(","))
    config = Config(args.photos, args.runs, sizes, webp_method=args.method)

    photos = baseline_photos(config.photos)
    megabytes = statistics.fmean(len(p) for p in photos) / 1e6
    print(
        f"Baseline: {config.photos} synthetic photo-like JPEG(s), {BASELINE_SIZE[0]}x{BASELINE_SIZE[1]} "
        f"(12.2 MP), q{BASELINE_QUALITY} 4:2:0, EXIF orientation 6, avg {megabytes:.1f} MB "
        f"(tests/worker/imagefactory.photo, seeds 0..{config.photos - 1})."
    )
    print(
        f"Output: WebP q{config.quality} method {config.webp_method}, sizes {list(config.sizes)}; "
        f"{config.runs} timed runs, median; one pinned CPU per variant process; "
        f"Python {sys.version.split()[0]}, Pillow {Image.__version__}."
    )
    results: list[Result] = []
    skipped = set(filter(None, args.skip.split(",")))
    for name, section in SECTIONS.items():
        if name not in skipped:
            results += section(config, photos)
    print_summary(results, config)


if __name__ == "__main__":
    main()
