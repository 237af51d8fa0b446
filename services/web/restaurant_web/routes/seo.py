"""What crawlers fetch besides the pages: robots.txt and the sitemaps, with validators for conditional requests.

A crawler that sends back the ETag (If-None-Match) or the Last-Modified date (If-Modified-Since) of its last
visit gets 304 Not Modified, without the body, when nothing in the file has changed.
"""

import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response

from restaurant_web import sitemaps
from restaurant_web.deps import SessionDep
from restaurant_web.seo import absolute_url, public_origin

router = APIRouter(include_in_schema=False)
# Stored, but checked with the server before each reuse: a 304 costs little, and a new review shows at once.
SITEMAP_CACHE_CONTROL = "no-cache"
# Only the one spelling of each file's name, so that no two URLs serve the same file.
FILE_START = re.compile(r"0|[1-9][0-9]{0,9}")


@router.get("/robots.txt")
def robots_txt(request: Request) -> Response:
    body = (
        "User-agent: *\n"
        "Disallow: /api/\n"
        "Disallow: /docs\n"
        "Disallow: /openapi.json\n"
        "\n"
        f"Sitemap: {absolute_url(request, '/sitemap.xml')}\n"
    )
    return PlainTextResponse(body)


@router.get("/sitemap.xml")
def sitemap_index(request: Request, session: SessionDep) -> Response:
    entries = sitemaps.index_entries(session)
    return _xml(request, sitemaps.render_index(public_origin(request), entries), entries)


@router.get("/sitemaps/restaurants-{start}.xml")
def sitemap_file(start: str, request: Request, session: SessionDep) -> Response:
    if not FILE_START.fullmatch(start) or not sitemaps.is_file_start(int(start)):
        raise HTTPException(404, "No such sitemap")
    entries = sitemaps.file_entries(session, int(start))
    if not entries:
        raise HTTPException(404, "No such sitemap")
    return _xml(request, sitemaps.render_urlset(public_origin(request), entries), entries)


def _xml(request: Request, body: bytes, entries: list[sitemaps.Entry]) -> Response:
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": SITEMAP_CACHE_CONTROL}
    last_modified = max((entry.lastmod for entry in entries), default=None)
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/xml", headers=headers)


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored, as the RFC says
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since
