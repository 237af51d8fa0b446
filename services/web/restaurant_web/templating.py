"""Jinja2 templates and the small formatting helpers pages use."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from fastapi.templating import Jinja2Templates

from restaurant_shared.models import Photo
from restaurant_web import seo
from restaurant_web.presenters import thumbnail_url
from restaurant_web.security import CSRF_FIELD, csrf_token

TEMPLATES_DIR = Path(__file__).with_name("templates")


def star_fill(rating: float | None) -> int:
    """The rating rounded to the nearest half star, in halves (0-10): the CSS class `stars-<n>` draws it."""
    if rating is None:
        return 0
    return max(0, min(10, round(rating * 2)))


def rating_text(rating: float) -> str:
    """4.3 → "4.3", 4.0 → "4": whole ratings read better without the decimal."""
    return f"{rating:.1f}".removesuffix(".0")


def time_ago(moment: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def exact_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fitted_size(width: int, height: int, bucket: int) -> tuple[int, int]:
    """The size of a thumbnail whose longest side is `bucket` (never upscaled), as the worker makes it."""
    longest = max(width, height)
    if longest <= bucket:
        return width, height
    if width >= height:
        return bucket, max(1, round(height * bucket / width))
    return max(1, round(width * bucket / height)), bucket


def photo_srcset(photo: Photo) -> str:
    """`srcset` with each thumbnail's real width, so the browser picks the smallest one that is sharp enough."""
    candidates: dict[int, str] = {}
    for size in sorted(photo.thumbnail_sizes):
        width, _ = fitted_size(photo.width or size, photo.height or size, size)
        candidates.setdefault(width, thumbnail_url(photo.id, size))
    return ", ".join(f"{url} {width}w" for width, url in candidates.items())


def nominal_srcset(photo_id: object, sizes: Sequence[int]) -> str:
    """`srcset` when only the photo's id is known (list covers): each size named by its bucket."""
    return ", ".join(f"{thumbnail_url(photo_id, size)} {size}w" for size in sorted(sizes))


def list_url(q: str = "", sort: str = "newest", cursor: str | None = None) -> str:
    """A shareable list URL that leaves out the defaults."""
    params = {"q": q.strip(), "sort": sort if sort != "newest" else "", "cursor": cursor or ""}
    query = urlencode({key: value for key, value in params.items() if value})
    return f"/?{query}" if query else "/"


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["star_fill"] = star_fill
templates.env.filters["rating_text"] = rating_text
templates.env.filters["time_ago"] = time_ago
templates.env.filters["exact_time"] = exact_time
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
templates.env.globals["fitted_size"] = fitted_size
templates.env.globals["photo_srcset"] = photo_srcset
templates.env.globals["nominal_srcset"] = nominal_srcset
templates.env.globals["list_url"] = list_url
templates.env.globals["SITE_NAME"] = seo.SITE_NAME
templates.env.globals["list_meta"] = seo.list_meta
templates.env.globals["restaurant_meta"] = seo.restaurant_meta
templates.env.globals["new_restaurant_meta"] = seo.new_restaurant_meta
templates.env.globals["restaurant_json_ld"] = seo.restaurant_json_ld
