"""Jinja2 templates and the small formatting helpers pages use."""

from datetime import UTC, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from restaurant_web.security import CSRF_FIELD, csrf_token

TEMPLATES_DIR = Path(__file__).with_name("templates")


def stars(rating: float | None) -> str:
    """Five star glyphs for a rating rounded to the nearest half (shown next to the number)."""
    if rating is None:
        return "☆☆☆☆☆"
    full = int(rating + 0.25)
    return "★" * full + "☆" * (5 - full)


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


templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters["stars"] = stars
templates.env.filters["time_ago"] = time_ago
templates.env.filters["exact_time"] = exact_time
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD
