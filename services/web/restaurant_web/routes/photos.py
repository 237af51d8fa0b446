"""Thumbnails for browsers: streamed from Blob, or a redirect to a short-lived read-only SAS URL.

The raw upload is never served: it may carry GPS metadata. Only thumbnails, which carry none, are.
"""

import functools
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from restaurant_shared.blobstore import THUMBNAIL_CACHE_CONTROL, thumbnail_blob_name
from restaurant_shared.models import PhotoStatus
from restaurant_web import repository
from restaurant_web.deps import ServicesDep, SessionDep
from restaurant_web.moderation.principal import PrincipalDep, is_moderator

router = APIRouter(tags=["photos"])


@router.get(
    "/photos/{photo_id}/{size}",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}}, 307: {"description": "Redirect to a read-only SAS URL"}},
)
async def get_thumbnail(
    photo_id: uuid.UUID,
    size: Annotated[int, Path(ge=1, le=10_000)],
    services: ServicesDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> Response:
    moderator = is_moderator(principal, services.settings)  # moderators look at hidden photos before restoring
    photo = await anyio.to_thread.run_sync(
        functools.partial(repository.get_photo, session, photo_id, include_hidden=moderator)
    )
    if photo is None or photo.status != PhotoStatus.READY or size not in photo.thumbnail_sizes:
        raise HTTPException(404, "No such thumbnail")
    name = thumbnail_blob_name(photo.id, size)
    if services.settings.photo_delivery == "sas":
        ttl = timedelta(seconds=services.settings.photo_sas_ttl_seconds)
        url = await anyio.to_thread.run_sync(services.store.thumbnail_sas_url, name, ttl)
        # The redirect may be cached a little, never longer than the SAS it points to lives.
        max_age = min(300, services.settings.photo_sas_ttl_seconds // 2)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": f"private, max-age={max_age}"})
    chunks = await anyio.to_thread.run_sync(services.store.open_thumbnail, name)
    return StreamingResponse(
        _iterate_in_thread(chunks),
        media_type="image/webp",
        headers={
            # What a moderator sees may be hidden from everyone else: keep it out of shared caches.
            "Cache-Control": "private, no-store" if moderator else THUMBNAIL_CACHE_CONTROL,
            "Content-Disposition": "inline",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _iterate_in_thread(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    iterator = iter(chunks)
    while (chunk := await anyio.to_thread.run_sync(next, iterator, None)) is not None:
        yield chunk
