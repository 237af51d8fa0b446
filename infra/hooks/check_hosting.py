"""azd preprovision hook: HOSTING and USE_CONTAINER_APPS must agree before anything is created.

azd decides which services to deploy (USE_CONTAINER_APPS, the `condition` of web and worker in azure.yaml)
when `azd up` starts, before provisioning, so the choice cannot be derived from HOSTING on the way.
"""

import os
import sys

HOSTS = {"containerapps": "true", "appservice": "false"}


def problem(hosting: str, use_container_apps: str) -> str | None:
    if hosting not in HOSTS:
        return f"HOSTING must be containerapps or appservice, not {hosting!r}"
    if use_container_apps.lower() != HOSTS[hosting]:
        wanted = HOSTS[hosting]
        return f"HOSTING={hosting} needs USE_CONTAINER_APPS={wanted}: azd env set USE_CONTAINER_APPS {wanted}"
    return None


def main() -> int:
    message = problem(os.environ.get("HOSTING", "containerapps"), os.environ.get("USE_CONTAINER_APPS", "true"))
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
