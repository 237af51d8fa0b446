"""What search engines and link previews read from a page: description, canonical URL, share tags, JSON-LD.

Absolute URLs start from PUBLIC_BASE_URL; only where it is unset (local development) from the request's
Host header, which a client chooses freely. The structured data is built from what the page itself shows
(its page of reviews, the restaurant's stored aggregates), so anything the page leaves out is absent there.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

from restaurant_shared.models import Restaurant, Review
from restaurant_shared.settings import Settings
from restaurant_web.presenters import thumbnail_url

SITE_NAME = "Restaurant reviews"
SITE_DESCRIPTION = (
    "Find a good place to eat: restaurants with their average rating, reviews and photos from the people "
    "who ate there. Add a restaurant or write a review in a few seconds."
)
NEW_RESTAURANT_DESCRIPTION = (
    "Add a restaurant that is missing, with its address and a short description, so people can rate it, "
    "review it and share photos of what they ate."
)
# Search results show about this much of a description; a longer one is cut at a word.
DESCRIPTION_MAX = 160
# `<` could end the data block (`</script>`) or start an HTML comment in it (`<!--`); `>` and `&` go too, so
# the text reads the same wherever it is parsed as HTML; U+2028/2029 are line ends to older JavaScript
# parsers. JSON allows each of them as a \u escape, so the data is unchanged.
_SCRIPT_UNSAFE = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


@dataclass(frozen=True)
class PageMeta:
    title: str
    description: str
    canonical_url: str | None  # None: the page asks search engines not to index it
    image_url: str | None = None
    image_alt: str = ""


def public_origin(request: Request) -> str:
    settings: Settings = request.app.state.services.settings
    return settings.public_base_url or f"{request.url.scheme}://{request.url.netloc}"


def absolute_url(request: Request, path: str) -> str:
    return public_origin(request) + path


def restaurant_url(request: Request, restaurant_id: int) -> str:
    return absolute_url(request, f"/restaurants/{restaurant_id}")


def cover_url(request: Request, restaurant: Restaurant) -> str | None:
    """The cover's largest thumbnail through the app's own /photos URL, which serves it or redirects to a SAS."""
    if restaurant.cover_photo_id is None:
        return None
    settings: Settings = request.app.state.services.settings
    return absolute_url(request, thumbnail_url(restaurant.cover_photo_id, max(settings.thumbnail_sizes)))


def shorten(text: str, limit: int = DESCRIPTION_MAX) -> str:
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(" ,.;:") + "…"


def restaurant_description(restaurant: Restaurant) -> str:
    name = restaurant.name.strip().rstrip(".")
    place = f"{name}, {restaurant.street_address.strip()}." if restaurant.street_address.strip() else f"{name}."
    if restaurant.avg_rating is not None:
        plural = "" if restaurant.review_count == 1 else "s"
        rating = f"Rated {restaurant.avg_rating:.1f} out of 5 from {restaurant.review_count} review{plural}."
    else:
        rating = "No reviews yet: be the first to review it."
    return shorten(f"{place} {rating} {restaurant.description}")


def list_meta(request: Request, q: str) -> PageMeta:
    """Every sort and page of the list is one canonical page; search results are not indexed."""
    if q.strip():
        description = shorten(f"Restaurants whose name contains “{q.strip()}”, with their ratings and reviews.")
        return PageMeta(f"“{q.strip()}” · Restaurants", description, None)
    return PageMeta("Restaurants", SITE_DESCRIPTION, absolute_url(request, "/"))


def restaurant_meta(request: Request, restaurant: Restaurant) -> PageMeta:
    """Each page of a restaurant's reviews names the restaurant's first page as the canonical one."""
    return PageMeta(
        restaurant.name,
        restaurant_description(restaurant),
        restaurant_url(request, restaurant.id),
        cover_url(request, restaurant),
        f"A photo from a review of {restaurant.name}",
    )


def new_restaurant_meta(request: Request) -> PageMeta:
    return PageMeta("Add a restaurant", NEW_RESTAURANT_DESCRIPTION, absolute_url(request, "/restaurants/new"))


def review_data(review: Review) -> dict[str, Any]:
    data: dict[str, Any] = {
        "@type": "Review",
        "author": {"@type": "Person", "name": review.user_name},
        "datePublished": review.created_at.astimezone(UTC).date().isoformat(),
        "reviewRating": {"@type": "Rating", "ratingValue": review.rating, "bestRating": 5, "worstRating": 1},
    }
    if review.review_text.strip():
        data["reviewBody"] = review.review_text
    return data


def restaurant_data(
    restaurant: Restaurant, reviews: Sequence[Review], page_url: str, image_url: str | None
) -> dict[str, Any]:
    """schema.org Restaurant with the properties search engines read for review snippets."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Restaurant",
        "@id": f"{page_url}#restaurant",
        "name": restaurant.name,
        "url": page_url,
    }
    if restaurant.street_address.strip():
        data["address"] = {"@type": "PostalAddress", "streetAddress": restaurant.street_address}
    if restaurant.description.strip():
        data["description"] = restaurant.description
    if image_url:
        data["image"] = image_url
    if restaurant.avg_rating is not None:  # search engines reject a rating of nothing (reviewCount 0)
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": restaurant.avg_rating,
            "reviewCount": restaurant.review_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    if reviews:
        data["review"] = [review_data(review) for review in reviews]
    return data


def json_ld(data: dict[str, Any]) -> Markup:
    """A JSON-LD data block. Browsers never run it (its type is not JavaScript), so the CSP has nothing to allow;
    user text in it is escaped so that it can neither close the element nor change how HTML parses it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_UNSAFE)
    return Markup(f'<script type="application/ld+json">{text}</script>')  # noqa: S704 - escaped just above


def restaurant_json_ld(request: Request, restaurant: Restaurant, reviews: Sequence[Review]) -> Markup:
    page_url = restaurant_url(request, restaurant.id)
    return json_ld(restaurant_data(restaurant, reviews, page_url, cover_url(request, restaurant)))
