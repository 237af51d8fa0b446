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
def native_images(
    web_dockerfile: Dockerfile, worker_dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, NativeImage]:
    """Both images' build stages replayed on this machine (in parallel), each giving its own virtualenv."""
    dockerfiles = {"web": web_dockerfile, "worker": worker_dockerfile}
    workdirs: dict[str, Path] = {name: tmp_path_factory.mktemp(f"image-{name}") for name in dockerfiles}
    with ThreadPoolExecutor(max_workers=2) as pool:
        venvs = dict(
            zip(
                dockerfiles,
                pool.map(lambda n: replay_build_stage(dockerfiles[n], workdirs[n]), dockerfiles),
                strict=True,
            )
        )
    return {name: NativeImage(dockerfile, venvs[name]) for name, dockerfile in dockerfiles.items()}
