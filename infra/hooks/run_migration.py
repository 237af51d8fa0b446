"""azd postdeploy hook of the `migrate` service: run the migration job once and wait for it.

azd has just put the new web image into the job; web and worker (`uses: [migrate]` in azure.yaml) deploy only
after this hook succeeds, so a failed migration stops the release before any new revision serves traffic.
"""

import sys
import time

from infra.hooks.arm import Arm, ArmError, required, resource_group_path, signed_in_arm

JOBS_API = "2025-01-01"
SUCCEEDED = "Succeeded"
FAILED_STATES = {"Failed", "Stopped", "Degraded"}


class MigrationFailed(RuntimeError):
    pass


def start_execution(arm: Arm, job_path: str) -> str:
    """Start one execution of the job and return its name."""
    status, body, headers = arm.request("POST", f"{job_path}/start", JOBS_API)
    if body.get("name"):
        return str(body["name"])
    # Some answers are a bare 202: the execution is named by the operation's result.
    location = {key.lower(): value for key, value in headers.items()}.get("location")
    deadline = time.monotonic() + 120
    while location and time.monotonic() < deadline:
        status, body, _ = arm.request("GET", location)
        if status == 200 and body.get("name"):
            return str(body["name"])
        time.sleep(arm.poll_seconds)
    raise MigrationFailed(f"starting {job_path} returned no execution name (HTTP {status})")


def wait_for_execution(arm: Arm, job_path: str, execution: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    last = "Unknown"
    while time.monotonic() < deadline:
        _, body, _ = arm.request("GET", f"{job_path}/executions/{execution}", JOBS_API)
        last = str(body.get("properties", {}).get("status", "Unknown"))
        if last == SUCCEEDED:
            return last
        if last in FAILED_STATES:
            raise MigrationFailed(f"migration {execution} ended {last}")
        time.sleep(arm.poll_seconds)
    raise MigrationFailed(f"migration {execution} still {last} after {timeout:.0f} s")


def run_migration(arm: Arm, job_path: str, timeout: float = 900) -> str:
    execution = start_execution(arm, job_path)
    print(f"migration: started {execution}", flush=True)
    wait_for_execution(arm, job_path, execution, timeout)
    print(f"migration: {execution} succeeded", flush=True)
    return execution


def main() -> int:
    job_path = f"{resource_group_path()}/providers/Microsoft.App/jobs/{required('MIGRATION_JOB_NAME')}"
    try:
        run_migration(signed_in_arm(), job_path)
    except (MigrationFailed, ArmError) as exc:
        print(f"migration failed, deploy stopped: {exc}", file=sys.stderr)
        print("its logs: the job's Execution history in the portal, or az containerapp job logs show", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
