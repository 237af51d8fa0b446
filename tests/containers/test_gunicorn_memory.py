"""The web server's config keeps an upload's block-sized buffers in the heap (see gunicorn.conf.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / "services/web/gunicorn.conf.py"

# Allocates a buffer the size of a photo's block and names the memory region it landed in.
WHERE_IS_A_BLOCK = """
import runpy, sys
if sys.argv[1] == "with-config":
    runpy.run_path(sys.argv[2])
block = bytes(4 * 1024 * 1024)
address = id(block)
for line in open("/proc/self/maps"):
    span, *rest = line.split()
    start, end = (int(x, 16) for x in span.split("-"))
    if start <= address < end:
        print(rest[4] if len(rest) > 4 else "anonymous mapping")
"""


def region_of_a_block(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", WHERE_IS_A_BLOCK, *args], capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.strip()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads Linux's /proc")
def test_the_config_has_glibc_serve_block_sized_buffers_from_the_heap() -> None:
    assert region_of_a_block("default") == "anonymous mapping"  # glibc's default: a fresh mapping each time
    assert region_of_a_block("with-config", str(CONFIG)) == "[heap]"
