"""The process's one Azure credential, shared by Blob, the task queue and Postgres.

azure-identity caches tokens inside a credential instance, so building one per request would mean a token
request per request. A forked child (Celery prefork, gunicorn) gets its own instance: the cache is keyed
by process id because credential objects hold HTTP sessions that must not be shared across a fork.
"""

import os
import threading

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential

from restaurant_shared.settings import Settings

POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"

_lock = threading.Lock()
_credentials: dict[tuple[int, str | None], TokenCredential] = {}


def get_credential(settings: Settings) -> TokenCredential:
    key = (os.getpid(), settings.azure_client_id)
    with _lock:
        credential = _credentials.get(key)
        if credential is None:
            # managed_identity_client_id selects the user-assigned identity; without it Azure would
            # try the system-assigned one, which this product does not use.
            credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
            _credentials[key] = credential
        return credential
