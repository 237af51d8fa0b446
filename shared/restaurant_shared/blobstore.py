"""Blob storage: raw uploads and thumbnails, in private containers.

Blob names are built here from photo ids only; nothing a user sends ever becomes part of a name.
"""

import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobBlock,
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    LinearRetry,
    UserDelegationKey,
    generate_blob_sas,
)

from restaurant_shared.identity import STORAGE_SCOPE, get_credential
from restaurant_shared.settings import Settings

THUMBNAIL_CACHE_CONTROL = "public, max-age=31536000, immutable"
# A fresh delegation key is requested this long before the cached one expires, so every SAS handed out
# stays valid for its whole lifetime.
_DELEGATION_KEY_LIFETIME = timedelta(hours=1)


def raw_blob_name(photo_id: uuid.UUID) -> str:
    return str(photo_id)


def thumbnail_blob_name(photo_id: uuid.UUID, size: int) -> str:
    return f"{photo_id}/{size}.webp"


@dataclass(frozen=True)
class StoredBlob:
    name: str
    last_modified: datetime


class BlobStore:
    def __init__(
        self, settings: Settings, client: BlobServiceClient, credential: TokenCredential | None = None
    ) -> None:
        self.uploads = settings.storage_uploads_container
        self.thumbnails = settings.storage_thumbnails_container
        self._client = client
        self._credential = credential
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_key_expiry = datetime.min.replace(tzinfo=UTC)
        self._key_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **client_options: Any) -> "BlobStore":
        options: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30}
        options.update(client_options)
        # The SDK's default backoff (15 s, then 18 s, 24 s...) holds a request or a start-up for a
        # minute when storage or the identity is unavailable, and even a short exponential policy took
        # 11-16 s per call against a stopped Azurite (tests/reliability/test_faults.py). Two quick
        # retries ride out a blip; an outage fails in about a second and the caller decides (an HTTP
        # 503 with Retry-After, the task's own backoff).
        retries = int(options.pop("retry_total", 2))
        # (The SDK's hints say int; the values are seconds and floats work.)
        options["retry_policy"] = LinearRetry(backoff=0.5, random_jitter_range=0.25, retry_total=retries)  # type: ignore[arg-type]
        if settings.azure_storage_connection_string is not None:
            client = BlobServiceClient.from_connection_string(
                settings.azure_storage_connection_string.get_secret_value(), **options
            )
        else:
            assert settings.azure_storage_account_url is not None
            credential = get_credential(settings)
            client = BlobServiceClient(settings.azure_storage_account_url, credential=credential, **options)
            return cls(settings, client, credential)
        return cls(settings, client)

    @property
    def account_url(self) -> str:
        return self._client.url

    def ensure_containers(self) -> None:
        """Create the private containers if they are missing; safe to call from many replicas at once."""
        self._check_identity()
        for name in (self.uploads, self.thumbnails):
            with suppress(ResourceExistsError):
                self._client.create_container(name)  # no public_access: private by default

    def check(self) -> None:
        """Raise if storage is unreachable or the identity lacks access to the uploads container."""
        self._check_identity()
        self._client.get_container_client(self.uploads).get_container_properties()

    def _check_identity(self) -> None:
        # The storage client retries a failed sign-in like a network error, for many seconds; asking
        # the identity directly turns a wrong client id into an immediate, clear error.
        if self._credential is not None:
            self._credential.get_token(STORAGE_SCOPE)

    def put_raw(self, name: str, data: bytes, content_type: str) -> None:
        """A raw upload that fits in one block: one Put Blob request instead of stage + commit."""
        self._client.get_blob_client(self.uploads, name).upload_blob(
            data, overwrite=True, length=len(data), content_settings=ContentSettings(content_type=content_type)
        )

    # Larger raw uploads arrive in blocks so a photo is never held whole in memory.
    def stage_block(self, name: str, block_id: str, data: bytes) -> None:
        self._client.get_blob_client(self.uploads, name).stage_block(block_id, data, length=len(data))

    def commit_blocks(self, name: str, block_ids: list[str], content_type: str) -> None:
        self._client.get_blob_client(self.uploads, name).commit_block_list(
            [BlobBlock(block_id=block_id) for block_id in block_ids],
            content_settings=ContentSettings(content_type=content_type),
        )

    def read_raw(self, name: str) -> bytes:
        return self._client.get_blob_client(self.uploads, name).download_blob().readall()

    def delete_raw(self, names: Iterable[str]) -> None:
        for name in names:
            with suppress(ResourceNotFoundError):
                self._client.get_blob_client(self.uploads, name).delete_blob()

    def list_raw(self) -> Iterator[StoredBlob]:
        for blob in self._client.get_container_client(self.uploads).list_blobs():
            yield StoredBlob(name=blob.name, last_modified=blob.last_modified)

    def list_thumbnails(self) -> Iterator[StoredBlob]:
        for blob in self._client.get_container_client(self.thumbnails).list_blobs():
            yield StoredBlob(name=blob.name, last_modified=blob.last_modified)

    def delete_thumbnails(self, photo_id: uuid.UUID) -> int:
        """Delete every thumbnail of a photo, whatever sizes were made; returns how many there were."""
        container = self._client.get_container_client(self.thumbnails)
        names = [blob.name for blob in container.list_blobs(name_starts_with=f"{photo_id}/")]
        for name in names:
            with suppress(ResourceNotFoundError):
                container.delete_blob(name)
        return len(names)

    def put_thumbnail(self, name: str, data: bytes) -> None:
        self._client.get_blob_client(self.thumbnails, name).upload_blob(
            data,
            overwrite=True,
            content_settings=ContentSettings(
                content_type="image/webp",
                cache_control=THUMBNAIL_CACHE_CONTROL,
                content_disposition="inline",
            ),
        )

    def open_thumbnail(self, name: str) -> Iterator[bytes]:
        """Stream a thumbnail's bytes; raises ResourceNotFoundError before the first chunk if missing."""
        return self._client.get_blob_client(self.thumbnails, name).download_blob().chunks()

    def thumbnail_sas_url(self, name: str, ttl: timedelta) -> str:
        """A read-only URL for one thumbnail blob, valid for `ttl`."""
        now = datetime.now(UTC)
        expiry = now + ttl
        blob = self._client.get_blob_client(self.thumbnails, name)
        common = {
            "account_name": self._client.account_name,
            "container_name": self.thumbnails,
            "blob_name": name,
            "permission": BlobSasPermissions(read=True),
            "start": now - timedelta(minutes=5),  # tolerate clock skew between us and storage
            "expiry": expiry,
            "content_disposition": "inline",
        }
        account_key = self._client.credential.account_key if hasattr(self._client.credential, "account_key") else None
        if account_key:
            token = generate_blob_sas(account_key=account_key, **common)  # type: ignore[arg-type]
        else:
            token = generate_blob_sas(user_delegation_key=self._user_delegation_key(expiry), **common)  # type: ignore[arg-type]
        return f"{blob.url}?{token}"

    def _user_delegation_key(self, needed_until: datetime) -> UserDelegationKey:
        with self._key_lock:
            if self._delegation_key is None or self._delegation_key_expiry <= needed_until:
                start = datetime.now(UTC) - timedelta(minutes=5)
                expiry = datetime.now(UTC) + _DELEGATION_KEY_LIFETIME
                self._delegation_key = self._client.get_user_delegation_key(start, expiry)
                self._delegation_key_expiry = expiry
            return self._delegation_key
