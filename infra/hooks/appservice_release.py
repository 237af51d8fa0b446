"""azd postdeploy hook (project level), App Service host only: release both images to the sidecar app.

azd's App Service target deploys one container (linuxFxVersion DOCKER|...), not a sidecar app, so on this
host azd deploys only the `migrate` service (the web image, run as the migration job first). This hook then
builds and pushes the worker image, points the app's main container at the migrated web image and the
sidecar at the worker image, and restarts the app. On the Container Apps host it does nothing.
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import Any

from infra.hooks.arm import MANAGEMENT_SCOPE, Arm, ArmError, azd_token, required, resource_group_path, signed_in_arm

WEB_API = "2024-04-01"
WORKER_DOCKERFILE = "services/worker/Dockerfile"
# Docker's user name for a registry refresh token obtained from an Entra token (no admin user involved).
TOKEN_USER = "00000000-0000-0000-0000-000000000000"  # noqa: S105 (a fixed user name, not a password)


def worker_image_name(registry: str, environment: str, stamp: int) -> str:
    return f"{registry}/restaurant-reviews/worker-{environment}:azd-deploy-{stamp}"


def set_container_image(arm: Arm, site_path: str, container: str, image: str) -> None:
    path = f"{site_path}/sitecontainers/{container}"
    _, current, _ = arm.request("GET", path, WEB_API)
    properties: dict[str, Any] = dict(current.get("properties", {}))
    properties["image"] = image
    arm.request("PUT", path, WEB_API, {"properties": properties})


def release(arm: Arm, site_path: str, web_image: str, worker_image: str) -> None:
    set_container_image(arm, site_path, "web", web_image)
    set_container_image(arm, site_path, "worker", worker_image)
    arm.request("POST", f"{site_path}/restart", WEB_API)


def registry_refresh_token(registry: str, tenant: str, access_token: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "access_token", "service": registry, "tenant": tenant, "access_token": access_token}
    ).encode()
    request = urllib.request.Request(f"https://{registry}/oauth2/exchange", data=form, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return str(json.loads(response.read())["refresh_token"])


def build_and_push_worker(registry: str, image: str) -> None:
    token = registry_refresh_token(registry, required("AZURE_TENANT_ID"), azd_token(MANAGEMENT_SCOPE)())
    subprocess.run(
        ["docker", "login", registry, "--username", TOKEN_USER, "--password-stdin"],
        input=token,
        text=True,
        check=True,
    )
    subprocess.run(["docker", "build", "--file", WORKER_DOCKERFILE, "--tag", image, "."], check=True)
    subprocess.run(["docker", "push", image], check=True)


def main() -> int:
    if os.environ.get("HOSTING", "containerapps") != "appservice":
        return 0
    registry = required("AZURE_CONTAINER_REGISTRY_ENDPOINT")
    web_image = required("SERVICE_MIGRATE_IMAGE_NAME")
    worker_image = worker_image_name(registry, required("AZURE_ENV_NAME"), int(time.time()))
    site_path = f"{resource_group_path()}/providers/Microsoft.Web/sites/{required('APP_SERVICE_NAME')}"
    try:
        build_and_push_worker(registry, worker_image)
        # The next provision keeps this image (main.parameters.json reads SERVICE_WORKER_IMAGE_NAME).
        subprocess.run(["azd", "env", "set", "SERVICE_WORKER_IMAGE_NAME", worker_image], check=True)
        release(signed_in_arm(), site_path, web_image, worker_image)
    except (ArmError, subprocess.CalledProcessError) as exc:
        print(f"app service release failed: {exc}", file=sys.stderr)
        return 1
    print(f"app service: web {web_image}, worker {worker_image}, restarted", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
