"""Reading the Dockerfiles and compose files as data, and replaying an image natively (no Docker engine here).

An image's runtime view is rebuilt on this machine: its ENV (with /app/.venv mapped to a local virtualenv),
the files its final stage COPYs from the build context, and its CMD/HEALTHCHECK resolved against both. Tests
then run exactly what the image would run, so they break when a Dockerfile changes.
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fixtures.stack import REPO_ROOT

IMAGE_VENV = "/app/.venv"
WEB_DOCKERFILE = REPO_ROOT / "services/web/Dockerfile"
WORKER_DOCKERFILE = REPO_ROOT / "services/worker/Dockerfile"
LOCAL_COMPOSE = REPO_ROOT / "docker-compose.yml"
AZURE_COMPOSE = REPO_ROOT / "compose.azure.yml"
AZURE_GUIDE = REPO_ROOT / "docs/azure.md"


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for token in shlex.split(instruction.args):
                key, _, value = token.partition("=")
                values[key] = value
        return values

    def copies(self) -> list[tuple[str | None, list[str], str]]:
        """(from-stage or image, sources, destination) for every COPY."""
        result = []
        for instruction in self.all("COPY"):
            tokens = shlex.split(instruction.args)
            source_stage = next((t.split("=", 1)[1] for t in tokens if t.startswith("--from=")), None)
            paths = [t for t in tokens if not t.startswith("--")]
            result.append((source_stage, paths[:-1], paths[-1]))
        return result


@dataclass
class Dockerfile:
    path: Path
    stages: list[Stage]

    @classmethod
    def parse(cls, path: Path) -> "Dockerfile":
        stages: list[Stage] = []
        pending, start = "", 0
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if line.startswith("#"):
                continue
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            keyword, _, args = (pending + line).partition(" ")
            pending = ""
            keyword = keyword.upper()
            if keyword == "FROM":
                parts = args.split()
                stages.append(Stage(base=parts[0], name=parts[2] if len(parts) > 2 else None))
            else:
                stages[-1].instructions.append(Instruction(keyword, args.strip(), start))
        return cls(path, stages)

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def text(self) -> str:
        return self.path.read_text()

    def cmd(self) -> list[str]:
        (instruction,) = self.final.all("CMD")
        return list(json.loads(instruction.args))

    def healthcheck(self) -> list[str]:
        (instruction,) = self.final.all("HEALTHCHECK")
        _, _, command = instruction.args.partition("CMD ")
        return list(json.loads(command))

    def user(self) -> str:
        return self.final.all("USER")[-1].args

    def uid_gid(self) -> tuple[int, int]:
        uid, _, gid = self.user().partition(":")
        return int(uid), int(gid or uid)

    def context_files(self) -> dict[str, Path]:
        """Container path -> repository path, for every file the final stage copies from the build context."""
        files: dict[str, Path] = {}
        for source_stage, sources, destination in self.final.copies():
            if source_stage is None:
                (source,) = sources
                files[destination] = REPO_ROOT / source
        return files


class NativeImage:
    """An image's runtime view on this machine: its PATH, files and commands mapped to local paths."""

    def __init__(self, dockerfile: Dockerfile, venv: Path) -> None:
        self.dockerfile = dockerfile
        self.venv = venv
        # Copied beside the venv, as the build copies them: the checkout itself may be private to its owner,
        # and the image's unprivileged user must read them too.
        self.files: dict[str, Path] = {}
        for destination, source in dockerfile.context_files().items():
            target = venv.parent / "files" / destination.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            self.files[destination] = target

    def env(self) -> dict[str, str]:
        """The final stage's ENV with the image venv mapped to the local one and $PATH taken from this machine."""
        env = {}
        for key, value in self.dockerfile.final.env().items():
            value = value.replace(IMAGE_VENV, str(self.venv)).replace("$PATH", os.environ.get("PATH", ""))
            env[key] = value
        return env

    def path(self, container_path: str) -> str:
        if container_path in self.files:
            return str(self.files[container_path])
        if container_path.startswith(IMAGE_VENV + "/"):
            return str(self.venv) + container_path[len(IMAGE_VENV) :]
        return container_path

    def executable(self, name: str) -> str:
        """Resolve a command name the way the image's PATH would, then map it to this machine."""
        if "/" in name:
            return self.path(name)
        image_path = self.dockerfile.final.env()["PATH"].split(":")
        for directory in image_path:
            candidate = f"{directory}/{name}"
            if candidate in self.files:
                return str(self.files[candidate])
            if directory.startswith(IMAGE_VENV) and Path(self.path(candidate)).exists():
                return self.path(candidate)
        found = shutil.which(name)
        assert found, f"{name} is neither in the image's venv nor on this machine"
        return found

    def command(self, argv: list[str]) -> list[str]:
        return [self.executable(argv[0]), *(self.path(arg) for arg in argv[1:])]


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: a path is out when it or one of its parent folders matches a pattern (`**` = any depth)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        variants = {pattern, pattern.replace("**/", "")} if pattern.startswith("**/") else {pattern}
        for prefix in prefixes:
            for variant in variants:
                if fnmatch.fnmatchcase(prefix, variant):
                    return True
                if pattern.startswith("**/") and fnmatch.fnmatchcase(prefix.rsplit("/", 1)[-1], variant):
                    return True
    return False


def usable_by_anyone(path: Path) -> bool:
    """Whether every user may run or read `path`: it and each folder above it are open to others."""
    resolved = path.resolve()
    if not resolved.exists() or not resolved.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in resolved.parents)


def image_python(stage: Stage) -> str | None:
    """This machine's Python closest to the image's: the base image's version, runnable by the image's user.

    The image's interpreter is a system one that every user may run; this machine's default may live in a
    private home (pyenv under /root), which the image's unprivileged user could not execute.
    """
    match = re.match(r"python:(\d+\.\d+)", stage.base)
    names = [f"python{match.group(1)}"] if match else []
    folders = [*os.environ.get("PATH", "").split(":"), "/usr/local/bin", "/usr/bin"]
    for name in [*names, "python3"]:
        for folder in folders:
            candidate = Path(folder) / name
            if folder and usable_by_anyone(candidate):
                return str(candidate.resolve())
    return None


def replay_build_stage(dockerfile: Dockerfile, workdir: Path) -> Path:
    """Run the build stage's COPY and RUN steps natively; returns the virtualenv they produce.

    The context goes through .dockerignore like Docker's would. Deviations: uv uses this machine's cache
    instead of UV_NO_CACHE, so a replay takes seconds rather than a full download, and the interpreter is this
    machine's (see image_python).
    """
    stage = dockerfile.stages[0]
    patterns = dockerignore_patterns()
    source_root = workdir / "src"
    venv = workdir / "venv"
    env = {**os.environ, **stage.env(), "UV_PROJECT_ENVIRONMENT": str(venv)}
    env.pop("UV_NO_CACHE", None)
    env.pop("VIRTUAL_ENV", None)
    python = image_python(stage)
    if python:
        env["UV_PYTHON"] = python
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            source_root.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            tokens = shlex.split(instruction.args)
            if any(t.startswith("--from=") for t in tokens):
                continue  # the uv binary: this machine's uv stands in for it
            *sources, destination = tokens
            for source in sources:
                copy_context_path(source.rstrip("/"), source_root, destination, patterns)
        elif instruction.keyword == "RUN":
            # A shell-form RUN is, by definition, run by a shell.
            result = subprocess.run(  # noqa: S602
                instruction.args, shell=True, cwd=source_root, env=env, capture_output=True, text=True, timeout=300
            )
            assert result.returncode == 0, f"RUN {instruction.args} failed:\n{result.stdout}\n{result.stderr}"
    return venv


def copy_context_path(source: str, root: Path, destination: str, patterns: list[str]) -> None:
    """COPY semantics: a file into a folder keeps its name (destination ending in /); a folder copies its contents."""
    origin = REPO_ROOT / source
    assert origin.exists(), f"COPY {source}: not in the build context"
    assert not is_ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    into_folder = destination.endswith("/") or destination in (".", "./")
    target = root / destination / origin.name if into_folder else root / destination
    if origin.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target)
        return
    for path in origin.rglob("*"):
        relative = path.relative_to(REPO_ROOT).as_posix()
        if path.is_file() and not is_ignored(relative, patterns):
            out = root / destination / path.relative_to(origin)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)


def load_yaml(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: value for key, value in env.items()}
