"""Regenerate the committed test images: ``uv run python tests/images/generate.py``.

Deterministic (seeded), so re-running only changes the files if imagefactory changes.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _imagefactory():
    spec = importlib.util.spec_from_file_location("imagefactory", HERE.parent / "worker/imagefactory.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    factory = _imagefactory()
    files = {
        # A phone photo held upright: stored landscape, EXIF orientation 6, GPS + XMP + P3 profile.
        "photo_orientation6_gps.jpg": factory.jpeg(
            1200, 900, orientation=6, gps=True, xmp=True, icc=factory.icc_profile("display-p3"), seed=1
        ),
        # A logo-like PNG whose right half fades to transparent.
        "logo_alpha.png": factory.png(320, 240, "RGBA", seed=2),
    }
    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data) / 1000:.0f} kB")


if __name__ == "__main__":
    main()
