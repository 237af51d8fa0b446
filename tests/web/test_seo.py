"""What search engines and link previews get from the pages: descriptions, canonical URLs, share tags, JSON-LD."""

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine, text

from restaurant_shared.blobstore import BlobStore, thumbnail_blob_name
from restaurant_web.app import create_app
from restaurant_web.seo import json_ld
from tests.fixtures.stack import AppEnv
from tests.web.conftest import Browser, make_restaurant
from tests.web.seo_helpers import read_head
from tests.web.test_restaurants import post_review

SITE = "https://reviews.example.com"
HOSTILE_TEXT = (
    'Great pasta</script><script>document.title="owned"</script> <!-- <script> -->'
    ' </SCRIPT\t> \u2028line\u2029paragraph & "quotes" \\ back\\slash'
)


@pytest.fixture
def site(app_env: AppEnv, clean_state: None) -> Iterator[Browser]:
    """The app with its public address configured, as in production."""
    settings = app_env.settings(PUBLIC_BASE_URL=SITE, RATE_LIMIT_REVIEWS="")
    with Browser(create_app(settings), base_url="http://testserver") as browser:
        yield browser


def execute(app_env: AppEnv, sql: str, **params: object) -> None:
    engine = create_engine(AppEnv.database_url(app_env.settings()))
    with engine.begin() as conn:
        conn.execute(text(sql), params)
    engine.dispose()


def add_ready_cover(app_env: AppEnv, store: BlobStore, restaurant_id: int, review_id: int) -> uuid.UUID:
    """A ready photo with its thumbnails in Blob, made the restaurant's cover (what the worker would do)."""
    photo_id = uuid.uuid4()
    execute(
        app_env,
        "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes, width, height,"
        " thumbnail_sizes) VALUES (:id, :review, 0, 'ready', 'image/jpeg', 1000, 1600, 1200, '{320,1280}');"
        " UPDATE restaurant SET cover_photo_id = :id WHERE id = :restaurant",
        id=photo_id,
        review=review_id,
        restaurant=restaurant_id,
    )
    for size in (320, 1280):
        store.put_thumbnail(thumbnail_blob_name(photo_id, size), f"webp {size}".encode())
    return photo_id


def test_list_page_has_a_description_and_every_sort_and_page_has_one_canonical_url(site: Browser) -> None:
    for number in range(13):
        make_restaurant(site, f"Place {number:02d}")
    next_link = re.search(r'rel="next" href="([^"]+)"', site.get("/?sort=name").text)
    assert next_link, "13 restaurants make two pages"
    for url in ("/", "/?sort=rating", "/?sort=name", next_link.group(1).replace("&amp;", "&"), "/?utm_source=x"):
        response = site.get(url)
        assert response.status_code == 200, url
        head = read_head(response.text)
        assert head.canonical == [f"{SITE}/"], url
        assert head.meta["og:url"] == f"{SITE}/"
        assert len(head.meta["description"]) > 50 and head.meta["og:description"] == head.meta["description"]
        assert head.meta["twitter:card"] == "summary" and "robots" not in head.meta


def test_search_results_are_not_indexed(site: Browser) -> None:
    make_restaurant(site, "Olive Tree")
    head = read_head(site.get("/?q=olive").text)
    assert head.meta["robots"] == "noindex, follow"
    assert head.canonical == []
    assert "olive" in head.meta["description"]


def test_restaurant_page_describes_the_restaurant_and_names_its_first_page_canonical(site: Browser) -> None:
    restaurant = make_restaurant(site, "Trattoria Roma", street_address="1 Via Appia", description="Fresh pasta.")
    for rating in (5, 4, 4, 5, 3, 4, 5, 4, 4, 5, 4):
        post_review(site, restaurant["id"], rating)
    first = site.get(f"/restaurants/{restaurant['id']}")
    older = re.search(r'rel="next" href="([^"#]+)', first.text)
    assert older, "11 reviews make two pages"
    for response in (first, site.get(older.group(1))):
        head = read_head(response.text)
        assert head.canonical == [f"{SITE}/restaurants/{restaurant['id']}"]
        assert head.meta["description"] == (
            "Trattoria Roma, 1 Via Appia. Rated 4.3 out of 5 from 11 reviews. Fresh pasta."
        )
        assert head.meta["og:title"] == "Trattoria Roma"
        assert "og:image" not in head.meta, "no cover photo yet"


def test_long_descriptions_are_cut_at_a_word_for_search_results(site: Browser) -> None:
    restaurant = make_restaurant(site, "Wordy", description="word " * 150)
    description = read_head(site.get(f"/restaurants/{restaurant['id']}").text).meta["description"]
    assert len(description) <= 160 and description.endswith("word…")
    assert description.startswith("Wordy. No reviews yet: be the first to review it. word word")


@pytest.mark.parametrize("delivery", ["stream", "sas"])
def test_share_image_is_an_absolute_app_url_that_works_in_both_delivery_modes(
    app_env: AppEnv, clean_state: None, blob_store: BlobStore, delivery: str
) -> None:
    settings = app_env.settings(PUBLIC_BASE_URL=SITE, PHOTO_DELIVERY=delivery)
    with Browser(create_app(settings), base_url="http://testserver") as client:
        restaurant = make_restaurant(client, "Photogenic")
        review = post_review(client, restaurant["id"], 5)
        photo_id = add_ready_cover(app_env, blob_store, restaurant["id"], review["id"])
        head = read_head(client.get(f"/restaurants/{restaurant['id']}").text)
        assert head.meta["og:image"] == f"{SITE}/photos/{photo_id}/1280"
        assert head.meta["twitter:card"] == "summary_large_image"
        assert head.meta["og:image:alt"] == "A photo from a review of Photogenic"
        assert head.data()["image"] == head.meta["og:image"]

        response = client.get(head.meta["og:image"].removeprefix(SITE), follow_redirects=False)
        if delivery == "stream":
            assert response.status_code == 200 and response.content == b"webp 1280"
        else:
            assert response.status_code == 307
            assert httpx.get(response.headers["location"], timeout=10).content == b"webp 1280"


def test_absolute_urls_ignore_a_spoofed_host_header(site: Browser) -> None:
    restaurant = make_restaurant(site, "Hosted")
    spoofed = {"Host": "attacker.example", "X-Forwarded-Host": "attacker.example"}
    head = read_head(site.get(f"/restaurants/{restaurant['id']}", headers=spoofed).text)
    assert head.canonical == [f"{SITE}/restaurants/{restaurant['id']}"]
    assert head.data()["url"] == f"{SITE}/restaurants/{restaurant['id']}"
    assert f"Sitemap: {SITE}/sitemap.xml" in site.get("/robots.txt", headers=spoofed).text
    assert "attacker" not in site.get("/sitemap.xml", headers=spoofed).text


def test_without_a_public_base_url_absolute_urls_come_from_the_request(client: Browser) -> None:
    assert read_head(client.get("/").text).canonical == ["http://testserver/"]
    assert read_head(client.get("/restaurants/new").text).canonical == ["http://testserver/restaurants/new"]


def test_add_restaurant_page_has_its_own_description_and_canonical_url(site: Browser) -> None:
    head = read_head(site.get("/restaurants/new").text)
    assert head.canonical == [f"{SITE}/restaurants/new"]
    assert head.meta["description"].startswith("Add a restaurant")


def test_json_ld_is_a_restaurant_with_its_stored_rating_and_the_reviews_the_page_shows(site: Browser) -> None:
    restaurant = make_restaurant(site, "Chez Data", street_address="2 Rue Test", description="Bistro.")
    for number in range(12):
        post_review(site, restaurant["id"], 1 + number % 5, user_name=f"Guest {number}", text=f"Visit {number}")
    post_review(site, restaurant["id"], 4, user_name="Quiet")  # no text: no reviewBody
    page = f"/restaurants/{restaurant['id']}"
    data = read_head(site.get(page).text).data()
    api = site.get(f"/api/restaurants/{restaurant['id']}").json()

    assert data["@context"] == "https://schema.org" and data["@type"] == "Restaurant"
    assert data["name"] == "Chez Data" and data["url"] == f"{SITE}{page}" and data["description"] == "Bistro."
    assert data["address"] == {"@type": "PostalAddress", "streetAddress": "2 Rue Test"}
    assert data["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": api["avg_rating"],
        "reviewCount": 13,
        "bestRating": 5,
        "worstRating": 1,
    }
    shown = api["reviews"][:10]  # the page shows the newest ten, as the API's first page begins
    assert [r["author"] for r in data["review"]] == [{"@type": "Person", "name": r["user_name"]} for r in shown]
    assert [r["reviewRating"]["ratingValue"] for r in data["review"]] == [r["rating"] for r in shown]
    assert [r.get("reviewBody") for r in data["review"]] == [r["review_text"] or None for r in shown]
    for item, review in zip(data["review"], shown, strict=True):
        assert item["@type"] == "Review" and item["reviewRating"]["@type"] == "Rating"
        published = datetime.fromisoformat(review["created_at"]).astimezone(UTC).date()
        assert item["datePublished"] == published.isoformat()

    older = re.search(r'rel="next" href="([^"#]+)', site.get(page).text)
    assert older
    later = read_head(site.get(older.group(1)).text).data()
    assert [r["author"]["name"] for r in later["review"]] == ["Guest 2", "Guest 1", "Guest 0"]
    assert later["aggregateRating"] == data["aggregateRating"]


def test_restaurant_without_reviews_has_no_rating_and_no_reviews_in_json_ld(site: Browser) -> None:
    restaurant = make_restaurant(site, "Brand New")
    data = read_head(site.get(f"/restaurants/{restaurant['id']}").text).data()
    assert data["name"] == "Brand New"
    assert "aggregateRating" not in data and "review" not in data and "address" not in data


def test_hostile_review_text_stays_inside_the_data_block_and_round_trips(site: Browser) -> None:
    restaurant = make_restaurant(site, "Target </script>")
    post_review(site, restaurant["id"], 5, user_name="</script><!--", text=HOSTILE_TEXT)
    html = site.get(f"/restaurants/{restaurant['id']}").text
    head = read_head(html)
    (block,) = head.json_ld
    for unsafe in ("<", ">", "\u2028", "\u2029"):
        assert unsafe not in block
    data = head.data()
    assert data["name"] == "Target </script>"
    assert data["review"][0]["reviewBody"] == HOSTILE_TEXT
    assert data["review"][0]["author"]["name"] == "</script><!--"
    assert html.count("<script") == html.count("</script>") == 4  # app.js, photos.js, review-form.js, the data


@pytest.mark.parametrize(
    "value", ["</script>", "<!--", "-->", "\u2028\u2029", "a & b", '"\\', "\x00\x1f", "😀 ünïcode", "]]>"]
)
def test_json_ld_escapes_what_could_end_the_block_and_still_parses_to_the_same_text(value: str) -> None:
    markup = str(json_ld({"text": value}))
    inner = markup.removeprefix('<script type="application/ld+json">').removesuffix("</script>")
    assert not re.search(r"[<>&\u2028\u2029]", inner)
    assert json.loads(inner) == {"text": value}


def test_robots_txt_allows_pages_keeps_out_the_api_and_points_to_the_sitemap(site: Browser) -> None:
    response = site.get("/robots.txt")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert "Disallow: /api/" in lines and "Disallow: /" not in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines


def test_a_site_without_restaurants_has_an_empty_sitemap_index(site: Browser) -> None:
    response = site.get("/sitemap.xml")
    assert response.status_code == 200 and "<sitemap>" not in response.text
    assert "sitemapindex" in response.text and "last-modified" not in response.headers
    assert site.get("/sitemaps/restaurants-0.xml").status_code == 404
