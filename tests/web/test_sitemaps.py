"""Sitemaps on a seeded database whose ids span three files: limits, completeness, lastmod and 304s.

The database holds the small seed (1,000 restaurants with 20,000 reviews) plus 50,001 restaurants with ids
50,001 to 100,001, so the second file is full (50,000 URLs, the protocol's limit) and a third holds one.
What the files should say is computed here with plain SQL over the whole table, the slow way.
"""

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import psycopg2
import pytest

from restaurant_web.app import create_app
from tests.fixtures.seed import SCALES, seed
from tests.fixtures.stack import AppEnv, migrate, recreate_database
from tests.web.conftest import Browser
from tests.web.test_restaurants import post_review

SITE = "https://reviews.example.com"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}
URL_LIMIT = 50_000
SIZE_LIMIT = 50 * 1024 * 1024
EXTRA_IDS = range(50_001, 100_002)


def connect(env: AppEnv) -> Any:
    conn = psycopg2.connect(AppEnv.database_url(env.settings()).replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def database(app_env: AppEnv) -> Iterator[AppEnv]:
    env = recreate_database(app_env, "reviews_sitemaps")
    migrate(env, "upgrade", "head")
    conn = connect(env)
    try:
        seed(conn, SCALES["small"])
        start = datetime(2024, 1, 1, tzinfo=UTC)
        rows = "".join(f"{rid}\tExtra {rid}\t\t\t{(start + timedelta(minutes=rid)).isoformat()}\n" for rid in EXTRA_IDS)
        with conn.cursor() as cur:
            cur.copy_expert(
                "COPY restaurant (id, name, street_address, description, created_at) FROM STDIN", io.StringIO(rows)
            )
            cur.execute("SELECT setval(pg_get_serial_sequence('restaurant', 'id'), (SELECT max(id) FROM restaurant))")
            cur.execute("ANALYZE restaurant")
    finally:
        conn.close()
    return env


@pytest.fixture(scope="module")
def site(database: AppEnv) -> Iterator[Browser]:
    settings = database.settings(PUBLIC_BASE_URL=SITE, RATE_LIMIT_REVIEWS="")
    with Browser(create_app(settings), base_url="http://testserver") as browser:
        yield browser


def expected_lastmods(env: AppEnv) -> dict[int, datetime]:
    """Each restaurant's lastmod, the slow and obvious way."""
    conn = connect(env)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, CASE WHEN last_review_at > created_at THEN last_review_at ELSE created_at END"
                " FROM restaurant"
            )
            return dict(cur.fetchall())
    finally:
        conn.close()


def w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)  # noqa: S314 - the app's own output, and the test is what checks it


def entries(xml: bytes, item: str) -> list[tuple[str, str]]:
    root = parse(xml)
    return [
        (node.findtext("sm:loc", namespaces=NS) or "", node.findtext("sm:lastmod", namespaces=NS) or "")
        for node in root.findall(f"sm:{item}", NS)
    ]


def test_index_lists_one_file_per_50000_ids_with_the_newest_change_of_each(site: Browser, database: AppEnv) -> None:
    response = site.get("/sitemap.xml")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xml")
    assert parse(response.content).tag == f"{{{NS['sm']}}}sitemapindex"
    lastmods = expected_lastmods(database)
    newest: dict[int, datetime] = {}
    for rid, moment in lastmods.items():
        start = (rid - 1) // URL_LIMIT * URL_LIMIT
        newest[start] = max(newest.get(start, moment), moment)
    assert entries(response.content, "sitemap") == [
        (f"{SITE}/sitemaps/restaurants-{start}.xml", w3c(moment)) for start, moment in sorted(newest.items())
    ]
    assert sorted(newest) == [0, 50_000, 100_000]


def test_files_stay_within_the_limits_and_list_every_restaurant_once(site: Browser, database: AppEnv) -> None:
    lastmods = expected_lastmods(database)
    seen: list[int] = []
    sizes = {}
    for loc, _ in entries(site.get("/sitemap.xml").content, "sitemap"):
        start = int(re.fullmatch(rf"{SITE}/sitemaps/restaurants-(\d+)\.xml", loc).group(1))  # type: ignore[union-attr]
        response = site.get(loc.removeprefix(SITE))
        assert response.status_code == 200 and len(response.content) < SIZE_LIMIT
        urls = entries(response.content, "url")
        sizes[start] = len(urls)
        ids = [int(url.removeprefix(f"{SITE}/restaurants/")) for url, _ in urls]
        assert ids == sorted(ids) and all(start < rid <= start + URL_LIMIT for rid in ids)
        assert urls == [(f"{SITE}/restaurants/{rid}", w3c(lastmods[rid])) for rid in ids]
        seen += ids
    assert sizes == {0: 1_000, 50_000: URL_LIMIT, 100_000: 1}
    assert sorted(seen) == sorted(lastmods), "every restaurant exactly once"


@pytest.mark.parametrize("url", ["/sitemap.xml", "/sitemaps/restaurants-50000.xml"])
def test_a_crawler_that_has_the_current_version_gets_304_without_a_body(site: Browser, url: str) -> None:
    first = site.get(url)
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert first.headers["cache-control"] == "no-cache"
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)
    cases = [
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": f'"other", W/{etag}'}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": last_modified}, 304),
        ({"If-Modified-Since": earlier}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": last_modified}, 200),  # If-None-Match decides
    ]
    for headers, status in cases:
        response = site.get(url, headers=headers)
        assert response.status_code == status, headers
        assert response.headers["etag"] == etag
        assert (response.content == b"") == (status == 304)


def test_a_new_review_changes_its_file_and_the_index_entry(site: Browser, database: AppEnv) -> None:
    before_index, before_file = site.get("/sitemap.xml"), site.get("/sitemaps/restaurants-0.xml")
    post_review(site, 7, 5)
    after_index = site.get("/sitemap.xml", headers={"If-None-Match": before_index.headers["etag"]})
    after_file = site.get("/sitemaps/restaurants-0.xml", headers={"If-None-Match": before_file.headers["etag"]})
    assert after_index.status_code == after_file.status_code == 200
    reviewed = expected_lastmods(database)[7]
    assert entries(after_index.content, "sitemap")[0][1] == w3c(reviewed)
    assert (f"{SITE}/restaurants/7", w3c(reviewed)) in entries(after_file.content, "url")
    assert parsedate_to_datetime(after_file.headers["last-modified"]) == reviewed.replace(microsecond=0)


@pytest.mark.parametrize(
    "name", ["restaurants-17", "restaurants-00", "restaurants-150000", "restaurants-99999999999950000", "restaurants-x"]
)
def test_a_sitemap_file_that_does_not_exist_is_404(site: Browser, name: str) -> None:
    assert site.get(f"/sitemaps/{name}.xml").status_code == 404
