"""Migrations create the whole schema from empty, and take it away again."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import DataError, IntegrityError

from tests.fixtures.services import PostgresServer
from tests.fixtures.stack import AppEnv, migrate

TABLES = {"restaurant", "review", "photo", "report", "moderation_action", "photo_erasure", "alembic_version"}


def fresh_database(app_env: AppEnv, postgres: PostgresServer | None, name: str) -> AppEnv:
    if postgres is None:
        pytest.skip("needs the throwaway Postgres started by the fixtures (TEST_POSTGRES_URL is set)")
    postgres.drop_database(name)
    postgres.create_database(name)
    return app_env.with_(POSTGRES_DB=name)


@pytest.fixture
def empty_database(app_env: AppEnv, postgres: PostgresServer | None) -> Iterator[AppEnv]:
    yield fresh_database(app_env, postgres, "reviews_migrations")
    postgres.drop_database("reviews_migrations")  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def migrated_engine(app_env: AppEnv, postgres: PostgresServer | None) -> Iterator[Engine]:
    env = fresh_database(app_env, postgres, "reviews_constraints")
    migrate(env, "upgrade", "head")
    engine = create_engine(AppEnv.database_url(env.settings()))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO restaurant (name) VALUES ('Base')"))
        conn.execute(text("INSERT INTO review (restaurant_id, user_name, rating) VALUES (1, 'Ann', 4)"))
    yield engine
    engine.dispose()
    postgres.drop_database("reviews_constraints")  # type: ignore[union-attr]


def tables(env: AppEnv) -> set[str]:
    engine = create_engine(AppEnv.database_url(env.settings()))
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_from_empty_to_head_then_downgrade_to_base(empty_database: AppEnv) -> None:
    assert tables(empty_database) == set()
    migrate(empty_database, "upgrade", "head")
    assert tables(empty_database) == TABLES
    assert "(head)" in migrate(empty_database, "current").stdout
    migrate(empty_database, "downgrade", "base")
    assert tables(empty_database) == {"alembic_version"}
    migrate(empty_database, "upgrade", "head")  # and back again: downgrade left nothing behind
    assert tables(empty_database) == TABLES
    migrate(empty_database, "check")  # the models and the migrations describe the same schema


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO restaurant (name) VALUES ('  ')",
        "INSERT INTO restaurant (name) VALUES (repeat('x', 101))",
        "INSERT INTO review (restaurant_id, user_name, rating) VALUES (1, 'a', 0)",
        "INSERT INTO review (restaurant_id, user_name, rating) VALUES (1, 'a', 6)",
        "INSERT INTO review (restaurant_id, user_name, rating) VALUES (1, ' ', 3)",
        "INSERT INTO review (restaurant_id, user_name, rating) VALUES (999, 'a', 3)",
        "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes)"
        " VALUES (gen_random_uuid(), 1, 5, 'pending', 'image/jpeg', 1)",
        "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes)"
        " VALUES (gen_random_uuid(), 1, 0, 'lost', 'image/jpeg', 1)",
        "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes)"
        " VALUES (gen_random_uuid(), 1, 0, 'failed', 'image/jpeg', 1)",
        "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes)"
        " VALUES (gen_random_uuid(), 1, 0, 'ready', 'image/jpeg', 1)",
    ],
)
def test_database_enforces_the_rules_itself(migrated_engine: Engine, statement: str) -> None:
    with pytest.raises((IntegrityError, DataError)), migrated_engine.begin() as conn:
        conn.execute(text(statement))


def test_deleting_a_restaurant_cascades_to_reviews_and_photos(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn, conn.begin() as transaction:
        conn.execute(text("INSERT INTO restaurant (id, name) VALUES (100, 'Gone')"))
        conn.execute(text("INSERT INTO review (id, restaurant_id, user_name, rating) VALUES (100, 100, 'Ann', 4)"))
        conn.execute(
            text("INSERT INTO photo (id, review_id, position, content_type, size_bytes) "
                 "VALUES (gen_random_uuid(), 100, 0, 'image/png', 10)")
        )  # fmt: skip
        conn.execute(text("DELETE FROM restaurant WHERE id = 100"))
        assert conn.execute(text("SELECT count(*) FROM review WHERE restaurant_id = 100")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM photo WHERE review_id = 100")).scalar() == 0
        transaction.rollback()


def test_upgrade_backfills_the_stored_aggregates_in_batches(empty_database: AppEnv) -> None:
    migrate(empty_database, "upgrade", "0001")
    engine = create_engine(AppEnv.database_url(empty_database.settings()))
    with engine.begin() as conn:
        # 2,500 restaurants with gaps in their ids (more than two batches), reviews on most of them, and ready
        # photos whose best one must become the cover.
        conn.execute(text("INSERT INTO restaurant (id, name) SELECT g * 2, 'R' || g FROM generate_series(1, 2500) g"))
        conn.execute(
            text(
                "INSERT INTO review (restaurant_id, user_name, rating, created_at)"
                " SELECT (g % 2000 + 1) * 2, 'U', 1 + g % 5, now() - g * interval '1 minute'"
                " FROM generate_series(1, 10000) g"
            )
        )
        conn.execute(
            text(
                "INSERT INTO photo (id, review_id, position, status, content_type, size_bytes, width, height,"
                " thumbnail_sizes) SELECT gen_random_uuid(), id, 0, CASE WHEN id % 3 = 0 THEN 'pending' ELSE 'ready'"
                " END, 'image/jpeg', 1, 10, 10, '{320}' FROM review WHERE id % 2 = 0"
            )
        )
    migrate(empty_database, "upgrade", "head")
    with engine.connect() as conn:
        wrong = conn.execute(
            text("""
            SELECT count(*) FROM restaurant r
            LEFT JOIN LATERAL (SELECT count(*) n, coalesce(sum(rating), 0) s, max(created_at) latest
                               FROM review WHERE restaurant_id = r.id) agg ON true
            LEFT JOIN LATERAL (SELECT p.id FROM review rv JOIN photo p ON p.review_id = rv.id
                               WHERE rv.restaurant_id = r.id AND p.status = 'ready'
                               ORDER BY rv.rating DESC, rv.created_at DESC, rv.id DESC, p.position LIMIT 1) c ON true
            WHERE (r.review_count, r.rating_sum, r.last_review_at, r.cover_photo_id)
                  IS DISTINCT FROM (agg.n, agg.s, agg.latest, c.id)
            """)
        ).scalar()
        counted = conn.execute(text("SELECT sum(review_count), count(cover_photo_id) FROM restaurant")).one()
        invalid = conn.execute(text("SELECT count(*) FROM pg_index WHERE NOT indisvalid")).scalar()
    engine.dispose()
    assert wrong == 0
    assert counted == (10000, 1000)  # photos on even review ids: half of the reviewed restaurants
    assert invalid == 0
    migrate(empty_database, "check")
