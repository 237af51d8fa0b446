"""Schema migrations: `python -m restaurant_shared.migrate [--wait SECONDS] [ACTION [REV]]`.

ACTION is upgrade [REV] (the default, to head), downgrade REV, current or check. Each first waits for the
database to accept connections (60 s unless --wait says otherwise). Run once per deployment (a compose one-off
service, a Container Apps job), never by the web app on start: several replicas starting together would race.
"""

import argparse
import logging
import sys
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError

from restaurant_shared.db import create_db_engine
from restaurant_shared.logging import configure_logging
from restaurant_shared.settings import Settings, get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
# Long enough for a first `docker compose up`, where Postgres initialises its data folder before it listens.
DEFAULT_WAIT_SECONDS = 60.0
RETRY_EVERY_SECONDS = 1.0

log = logging.getLogger("restaurant_shared.migrate")  # not "__main__" under python -m


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def wait_for_database(settings: Settings, wait_seconds: float) -> None:
    """Return once Postgres accepts a connection; exit with status 1 after `wait_seconds` of refusals.

    The step runs once and nothing restarts it, so a database that is still starting (first boot, a server
    restart) must not make it fail for good. Every connection failure counts as "not yet", a wrong password
    included: each attempt's line names the cause.
    """
    address = f"{settings.postgres_host}:{settings.postgres_port}"
    engine = create_db_engine(settings, pool_pre_ping=False)
    deadline = time.monotonic() + wait_seconds
    try:
        for attempt in range(1, sys.maxsize):
            try:
                with engine.connect():
                    return
            except OperationalError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    log.error(
                        f"database {address} did not accept connections within {wait_seconds:g} s; giving up",
                        extra={"database": address, "attempts": attempt, "error": reason},
                    )
                    raise SystemExit(1) from None
                log.warning(
                    f"database {address} not accepting connections yet; retrying",
                    extra={"database": address, "attempt": attempt, "error": reason},
                )
                time.sleep(min(RETRY_EVERY_SECONDS, remaining))
    finally:
        engine.dispose()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m restaurant_shared.migrate")
    parser.add_argument("action", nargs="?", default="upgrade", choices=["upgrade", "downgrade", "current", "check"])
    parser.add_argument("revision", nargs="?", default="head")
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the database to accept connections (default {DEFAULT_WAIT_SECONDS:g})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    wait_for_database(settings, args.wait)
    config = alembic_config()
    if args.action == "upgrade":
        command.upgrade(config, args.revision)
    elif args.action == "downgrade":
        command.downgrade(config, args.revision)
    elif args.action == "current":
        command.current(config)
    else:  # check: fails if the models and the migrations disagree
        command.check(config)


if __name__ == "__main__":
    main()
