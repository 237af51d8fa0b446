"""Every page reads through indexes, in at most three statements, on a database with real volume.

The database is seeded (3,000 restaurants, 60,000 reviews, 30,000 photos, one restaurant with 3,000
reviews) and analysed, so the planner chooses as it would in production. Each page's statements are
captured as the app sends them and explained with the same parameters.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import pytest
from sqlalchemy import event

from restaurant_web.app import create_app
from tests.fixtures.seed import SCALES, Seeded, seed
from tests.fixtures.stack import AppEnv, migrate, recreate_database
from tests.web.conftest import Browser

MAX_STATEMENTS = 3
SORTS = ("newest", "rating", "reviews", "name")


@dataclass
class Statement:
    sql: str
    parameters: Any


@pytest.fixture(scope="module")
def seeded(app_env: AppEnv) -> Iterator[tuple[AppEnv, Seeded]]:
    env = recreate_database(app_env, "reviews_plans")
    migrate(env, "upgrade", "head")
    conn = psycopg2.connect(AppEnv.database_url(env.settings()).replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    try:
        yield env, seed(conn, SCALES["plans"])
    finally:
        conn.close()


@pytest.fixture(scope="module")
def site(seeded: tuple[AppEnv, Seeded]) -> Iterator[Browser]:
    env, _ = seeded
    with Browser(create_app(env.settings()), base_url="http://testserver") as browser:
        yield browser


def captured(site: Browser, url: str) -> list[Statement]:
    engine = site.app.state.services.db.engine  # type: ignore[attr-defined]
    statements: list[Statement] = []

    def record(conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(Statement(sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = site.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 200, (url, response.text[:300])
    return statements


def sequential_scans(env: AppEnv, statement: Statement) -> list[str]:
    conn = psycopg2.connect(AppEnv.database_url(env.settings()).replace("postgresql+psycopg2", "postgresql"))
    try:
        with conn.cursor() as cur:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement.sql, statement.parameters)
            plan = cur.fetchone()[0]
    finally:
        conn.close()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] == "Seq Scan":
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def follow_next(site: Browser, url: str, times: int) -> str:
    for _ in range(times):
        url = site.get(url).json()["next"]
        assert url, "the list ended early"
    return url.removeprefix("http://testserver")


def page_urls(site: Browser, data: Seeded) -> list[str]:
    busiest = data.busiest_restaurant_id
    urls = [f"/?sort={sort}" for sort in SORTS] + [f"/api/restaurants?sort={sort}" for sort in SORTS]
    urls += [follow_next(site, f"/api/restaurants?sort={sort}&limit=20", 5) for sort in SORTS]
    urls += [f"/?q={data.search_term}", f"/api/restaurants?q={data.search_term}&sort=rating"]
    urls += [follow_next(site, f"/api/restaurants?q={data.search_term}", 3)]
    reviews_next = site.get(f"/api/restaurants/{busiest}").json()["reviews_next"].removeprefix("http://testserver")
    urls += [f"/restaurants/{busiest}", f"/api/restaurants/{busiest}", reviews_next]
    urls += [f"/restaurants/{busiest}?cursor={reviews_next.split('cursor=')[1]}", f"/api/photos/{data.photo_id}"]
    return urls


def test_every_page_reads_through_indexes_in_at_most_three_statements(
    site: Browser, seeded: tuple[AppEnv, Seeded]
) -> None:
    env, data = seeded
    report = {}
    for url in page_urls(site, data):
        statements = captured(site, url)
        scans = [(s.sql.split()[0:6], table) for s in statements for table in sequential_scans(env, s)]
        report[url] = (len(statements), scans)
    too_many = {url: count for url, (count, _) in report.items() if count > MAX_STATEMENTS}
    scanning = {url: scans for url, (_, scans) in report.items() if scans}
    assert not too_many, too_many
    assert not scanning, scanning


def test_list_pages_are_one_statement_and_restaurant_pages_two(site: Browser, seeded: tuple[AppEnv, Seeded]) -> None:
    _, data = seeded
    for sort in SORTS:
        assert len(captured(site, f"/?sort={sort}")) == 1
    busiest = data.busiest_restaurant_id
    assert len(captured(site, f"/restaurants/{busiest}")) == 2  # the restaurant; its reviews with their photos
    assert len(captured(site, f"/api/restaurants/{busiest}")) == 2


def test_sitemaps_read_through_indexes_in_one_statement_each(site: Browser, seeded: tuple[AppEnv, Seeded]) -> None:
    env, _ = seeded
    index = site.get("/sitemap.xml").text
    files = [loc.removeprefix("http://testserver") for loc in re.findall(r"<loc>([^<]+)</loc>", index)]
    assert files == ["/sitemaps/restaurants-0.xml"]
    for url in ("/sitemap.xml", *files):
        statements = captured(site, url)
        assert len(statements) == 1, url
        assert sequential_scans(env, statements[0]) == [], url
