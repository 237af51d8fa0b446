import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.containers.images import WEB_DOCKERFILE, WORKER_DOCKERFILE, Dockerfile, NativeImage, replay_build_stage


@pytest.fixture(scope="session")
def web_dockerfile() -> Dockerfile:
    return Dockerfile.parse(WEB_DOCKERFILE)


@pytest.fixture(scope="session")
def worker_dockerfile() -> Dockerfile:
    return Dockerfile.parse(WORKER_DOCKERFILE)


@pytest.fixture(scope="session")
def image_root() -> Iterator[Path]:
    """Where replayed images live: readable by every user, like an image's files, so that they also run as the
    image's unprivileged USER (pytest's own temporary folders are private to whoever runs the tests)."""
    root = Path(tempfile.mkdtemp(prefix="test-images-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def native_images(
    web_dockerfile: Dockerfile, worker_dockerfile: Dockerfile, image_root: Path
) -> dict[str, NativeImage]:
    """Both images' build stages replayed on this machine (in parallel), each giving its own virtualenv."""
    dockerfiles = {"web": web_dockerfile, "worker": worker_dockerfile}
    workdirs: dict[str, Path] = {name: image_root / f"image-{name}" for name in dockerfiles}
    for folder in workdirs.values():
        folder.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        venvs = dict(
            zip(
                dockerfiles,
                pool.map(lambda n: replay_build_stage(dockerfiles[n], workdirs[n]), dockerfiles),
                strict=True,
            )
        )
    return {name: NativeImage(dockerfile, venvs[name]) for name, dockerfile in dockerfiles.items()}
