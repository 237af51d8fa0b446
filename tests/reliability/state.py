"""What the reliability tests assert after every fault: nothing accepted is lost, nothing points at nothing.

- every photo row ends `ready` or `failed` (never stuck in `pending`/`processing`);
- every photo row's raw upload exists, and every `ready` photo has all its thumbnails;
- every blob name was made by the app (a UUID, or <uuid>/<size>.webp), never taken from the user;
- raw uploads without a row (orphans) are reported, for the tests that expect the sweeper to remove them.
"""

import re
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from tests.fixtures.stack import AppEnv

UUID_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
THUMBNAIL_NAME = re.compile(r"^([0-9a-f-]{36})/(\d+)\.webp$")


@dataclass(frozen=True)
class PhotoRow:
    id: str
    review_id: int
    status: str
    failure_reason: str | None
    thumbnail_sizes: list[int]


def query(settings: Settings, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(AppEnv.database_url(settings))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


def photo_rows(settings: Settings) -> list[PhotoRow]:
    rows = query(settings, "SELECT id::text, review_id, status, failure_reason, thumbnail_sizes FROM photo")
    return [PhotoRow(*row) for row in rows]


def review_photo_counts(settings: Settings) -> dict[int, int]:
    rows = query(
        settings, "SELECT r.id, count(p.id) FROM review r LEFT JOIN photo p ON p.review_id = r.id GROUP BY r.id"
    )
    return {review_id: count for review_id, count in rows}


def wait_until_finished(settings: Settings, timeout: float = 60) -> list[PhotoRow]:
    deadline = time.monotonic() + timeout
    while True:
        rows = photo_rows(settings)
        unfinished = [row for row in rows if row.status not in ("ready", "failed")]
        if not unfinished:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"photos still unfinished after {timeout} s: {unfinished}")
        time.sleep(0.2)


def raw_names(store: BlobStore) -> set[str]:
    return {blob.name for blob in store.list_raw()}


def thumbnail_names(store: BlobStore) -> set[str]:
    return {blob.name for blob in store._client.get_container_client(store.thumbnails).list_blobs()}


def assert_nothing_lost(settings: Settings, store: BlobStore, timeout: float = 60) -> set[str]:
    """Wait for every photo to finish, check the invariants, and return the orphan raw uploads."""
    rows = wait_until_finished(settings, timeout)
    raws = raw_names(store)
    thumbnails = thumbnail_names(store)
    for name in raws:
        assert UUID_NAME.match(name), f"raw blob name not made by the app: {name!r}"
    for name in thumbnails:
        assert THUMBNAIL_NAME.match(name), f"thumbnail blob name not made by the app: {name!r}"
    for row in rows:
        assert row.id in raws, f"photo {row.id} ({row.status}) points at a missing raw upload"
        if row.status == "ready":
            missing = [size for size in row.thumbnail_sizes if f"{row.id}/{size}.webp" not in thumbnails]
            assert not missing, f"ready photo {row.id} lacks thumbnails {missing}"
        else:
            assert row.failure_reason, f"failed photo {row.id} has no reason"
    known = {row.id for row in rows}
    for name in thumbnails:
        assert THUMBNAIL_NAME.match(name)[1] in known, f"thumbnail without a photo: {name}"  # type: ignore[index]
    return raws - known


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
