"""Azure Resource Manager over plain HTTPS for the azd hooks, signed in as whoever runs azd.

The hooks use `azd auth login`'s sign-in (AzureDeveloperCliCredential runs `azd auth token`), so `azd up`
needs no second login to the Azure CLI. Only the standard library talks HTTP here.
"""

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

MANAGEMENT_URL = "https://management.azure.com"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
TERMINAL_OPERATION_STATES = {"Succeeded", "Failed", "Canceled"}


class ArmError(RuntimeError):
    """An ARM request failed; the message carries ARM's error code and message, never a token."""


class Arm:
    def __init__(self, token: Callable[[], str], base_url: str = MANAGEMENT_URL, poll_seconds: float = 5.0) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.poll_seconds = poll_seconds

    def request(
        self, method: str, path: str, api_version: str | None = None, body: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """One call; returns status, JSON body ({} when empty) and headers. Raises ArmError on 4xx/5xx."""
        url = path if path.startswith("http") else self.base_url + path
        if api_version:
            url += ("&" if "?" in url else "?") + f"api-version={api_version}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (ARM's https endpoint unless a caller passes another)
        request.add_header("Authorization", f"Bearer {self._token()}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}, dict(response.headers)
        except urllib.error.HTTPError as exc:
            raise ArmError(f"{method} {path}: HTTP {exc.code} {describe_error(exc.read())}") from None

    def put_and_wait(self, path: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
        _, result, headers = self.request("PUT", path, api_version, body)
        self.wait(headers, path)
        return result

    def delete_and_wait(self, path: str, api_version: str) -> None:
        _, _, headers = self.request("DELETE", path, api_version)
        self.wait(headers, path)

    def wait(self, headers: dict[str, str], what: str, timeout: float = 900) -> None:
        """Follow a long-running operation (Azure-AsyncOperation, else Location) until it ends."""
        lowered = {key.lower(): value for key, value in headers.items()}
        monitor = lowered.get("azure-asyncoperation") or lowered.get("location")
        if not monitor:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, body, _ = self.request("GET", monitor)
            state = body.get("status")
            if state in TERMINAL_OPERATION_STATES:
                if state != "Succeeded":
                    raise ArmError(f"{what}: operation {state}: {describe_error(json.dumps(body).encode())}")
                return
            if status == 200 and state is None:
                return  # a Location monitor answers 200 with the result once done
            time.sleep(self.poll_seconds)
        raise ArmError(f"{what}: still running after {timeout:.0f} s")


def describe_error(raw: bytes) -> str:
    try:
        error = json.loads(raw).get("error") or {}
    except ValueError:
        return raw[:300].decode(errors="replace")
    return f"{error.get('code', '')}: {error.get('message', '')}"[:500]


def required(name: str) -> str:
    """An azd environment value the hook needs (azd passes its environment to hooks)."""
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"{name} is not set: run this through azd (azd provision / azd up)")
    return value


def resource_group_path() -> str:
    return f"/subscriptions/{required('AZURE_SUBSCRIPTION_ID')}/resourceGroups/{required('AZURE_RESOURCE_GROUP')}"


def azd_token(scope: str) -> Callable[[], str]:
    from azure.identity import AzureDeveloperCliCredential

    credential = AzureDeveloperCliCredential(tenant_id=os.environ.get("AZURE_TENANT_ID") or "")
    return lambda: credential.get_token(scope).token


def signed_in_arm() -> Arm:
    return Arm(azd_token(MANAGEMENT_SCOPE))
