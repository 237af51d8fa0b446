"""A local stack makes no outbound connection of its own: Azurite, as compose and scripts/dev start it, stays local.

Azurite collects telemetry (Application Insights, plus probes of the cloud metadata address) unless told not to.
Each launcher's exact Azurite arguments are run here against the real Azurite, with every TCP connection the
Node process attempts recorded, while it starts and serves a request.
"""

import http.client
import ipaddress
import json
import os
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.containers.images import LOCAL_COMPOSE, load_yaml
from tests.fixtures.services import ensure_azurite_installed, free_port, log_tail, port_open
from tests.fixtures.stack import REPO_ROOT

RECORDER = Path(__file__).with_name("record_connections.cjs")
PORT_FLAGS = ("--blobPort", "--queuePort", "--tablePort")
# After start-up and one request: telemetry goes out at once (start event, metadata probes), well within this.
OBSERVE_SECONDS = 3.0


def compose_azurite_args() -> list[str]:
    command = load_yaml(LOCAL_COMPOSE)["services"]["azurite"]["command"]
    assert command[0] == "azurite"
    return [str(arg) for arg in command[1:]]


def dev_azurite_args() -> list[str]:
    """The arguments scripts/dev starts Azurite with (its launch line, continuation lines joined)."""
    script = (REPO_ROOT / "scripts/dev").read_text().replace("\\\n", " ")
    (line,) = [line for line in script.splitlines() if line.strip().startswith(".cache/azurite/node_modules/.bin/")]
    words = shlex.split(line)
    assert words[-1] == "&"
    return words[1:-1]


def local_args(args: list[str], workdir: Path) -> tuple[list[str], int]:
    """The same arguments on free loopback ports and a private data folder; returns them and the blob port."""
    assert not set(PORT_FLAGS) & set(args), "the launchers use Azurite's default ports"
    mapped = list(args)
    for flag in ("--blobHost", "--queueHost", "--tableHost"):
        if flag in mapped:
            mapped[mapped.index(flag) + 1] = "127.0.0.1"
    mapped[mapped.index("--location") + 1] = str(workdir / "data")
    ports = [free_port() for _ in PORT_FLAGS]
    for flag, port in zip(PORT_FLAGS, ports, strict=True):
        mapped += [flag, str(port)]
    return mapped, ports[0]


def connections_made(args: list[str], workdir: Path) -> list[dict[str, Any]]:
    mapped, blob_port = local_args(args, workdir)
    connections = workdir / "connections.jsonl"
    connections.touch()
    env = {
        **os.environ,
        "CONNECTIONS_LOG": str(connections),
        "NODE_OPTIONS": f"--require {RECORDER}",
    }
    log_path = workdir / "azurite.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ensure_azurite_installed()), *mapped], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    try:
        deadline = time.monotonic() + 30
        while not port_open(blob_port):
            assert process.poll() is None and time.monotonic() < deadline, log_tail(log_path)
            time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", blob_port, timeout=5)
        conn.request("GET", "/devstoreaccount1?comp=list")
        conn.getresponse().read()
        conn.close()
        time.sleep(OBSERVE_SECONDS)
        assert process.poll() is None, log_tail(log_path)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # with telemetry on, Azurite waits on a last upload before it exits
            process.kill()
            process.wait(5)
    return [json.loads(line) for line in connections.read_text().splitlines()]


def is_local(connection: dict[str, Any]) -> bool:
    if connection["path"]:
        return True
    host = connection["host"] or "localhost"
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name: somewhere else


@pytest.mark.parametrize("launcher", ["docker-compose.yml", "scripts/dev"])
def test_azurite_as_launched_connects_nowhere(launcher: str, tmp_path: Path) -> None:
    args = compose_azurite_args() if launcher == "docker-compose.yml" else dev_azurite_args()
    outbound = [c for c in connections_made(args, tmp_path) if not is_local(c)]
    assert not outbound, f"Azurite started by {launcher} connects out: {outbound[:5]}"


def test_recorder_sees_outbound_connections(tmp_path: Path) -> None:
    """The recorder itself: a Node process that connects out is caught (without reaching anything)."""
    connections = tmp_path / "connections.jsonl"
    script = "require('net').connect(9, '192.0.2.1').on('error', () => {}); setTimeout(() => {}, 100);"
    env = {**os.environ, "CONNECTIONS_LOG": str(connections), "NODE_OPTIONS": f"--require {RECORDER}"}
    subprocess.run(["node", "-e", script], env=env, check=True, timeout=10)
    (recorded,) = [json.loads(line) for line in connections.read_text().splitlines()]
    assert recorded == {"host": "192.0.2.1", "port": 9, "path": None} and not is_local(recorded)
