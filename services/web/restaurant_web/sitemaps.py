"""Sitemaps: an index, and files of at most 50,000 restaurant pages each, every file one range of ids.

File `restaurants-<after>.xml` (`after` a multiple of 50,000) lists the restaurants with
`after < id <= after + 50,000`: one range read of the primary key, so a file costs the same with a thousand
reviews or ten million. A page's lastmod is its latest review, else its creation, both stored on the
restaurant: reviews are never read. The index gives each file the newest lastmod of its range, one descent of
ix_restaurant_sitemap (file number, lastmod) per file, so it never reads the rows the files list.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from restaurant_shared.models import SITEMAP_URLS_PER_FILE, Restaurant, sitemap_file_number, sitemap_lastmod

NAMESPACE = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_ID = 2**31 - 1  # restaurant.id is a Postgres integer


@dataclass(frozen=True)
class Entry:
    path: str
    lastmod: datetime


def file_path(after_id: int) -> str:
    return f"/sitemaps/restaurants-{after_id}.xml"


def is_file_start(after_id: int) -> bool:
    return 0 <= after_id <= MAX_ID and after_id % SITEMAP_URLS_PER_FILE == 0


def index_entries(session: Session) -> list[Entry]:
    """One entry per non-empty id range: the ranges between the smallest and the largest id, each probed once."""
    size = SITEMAP_URLS_PER_FILE
    number, lastmod = sitemap_file_number(), sitemap_lastmod()
    bounds = select(func.min(Restaurant.id).label("lo"), func.max(Restaurant.id).label("hi")).subquery("bounds")
    files = func.generate_series((bounds.c.lo - 1) // size, (bounds.c.hi - 1) // size).table_valued("n")
    files = files.render_derived(name="files")
    newest = select(lastmod.label("lastmod")).where(number == files.c.n).order_by(lastmod.desc()).limit(1)
    latest = newest.lateral("latest")
    query = (
        select(files.c.n, latest.c.lastmod)
        .select_from(bounds)
        .join(files, true())
        .join(latest, true())
        .order_by(files.c.n)
    )
    return [Entry(file_path(n * size), moment) for n, moment in session.execute(query)]


def file_entries(session: Session, after_id: int) -> list[Entry]:
    lastmod = sitemap_lastmod()
    query = (
        select(Restaurant.id, lastmod)
        .where(Restaurant.id > after_id, Restaurant.id <= after_id + SITEMAP_URLS_PER_FILE)
        .order_by(Restaurant.id)
    )
    return [Entry(f"/restaurants/{restaurant_id}", moment) for restaurant_id, moment in session.execute(query)]


def w3c_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _render(root: str, item: str, origin: str, entries: Sequence[Entry]) -> bytes:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{root} xmlns="{NAMESPACE}">']
    lines += [
        f"<{item}><loc>{escape(origin + entry.path)}</loc><lastmod>{w3c_datetime(entry.lastmod)}</lastmod></{item}>"
        for entry in entries
    ]
    lines.append(f"</{root}>\n")
    return "\n".join(lines).encode()


def render_index(origin: str, entries: Sequence[Entry]) -> bytes:
    return _render("sitemapindex", "sitemap", origin, entries)


def render_urlset(origin: str, entries: Sequence[Entry]) -> bytes:
    return _render("urlset", "url", origin, entries)
