"""Schema migrations: `python -m restaurant_shared.migrate [upgrade [REV] | downgrade REV | current | check]`.

Run once per deployment (a compose one-off service, a Container Apps job), never by the web app on start:
several replicas starting together would race.
"""

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    action, revision = ([*args, "upgrade"])[0], ([*args[1:], "head"])[0]
    config = alembic_config()
    if action == "upgrade":
        command.upgrade(config, revision)
    elif action == "downgrade":
        command.downgrade(config, revision)
    elif action == "current":
        command.current(config)
    elif action == "check":  # fails if the models and the migrations disagree
        command.check(config)
    else:
        raise SystemExit(f"unknown action {action!r}; use upgrade, downgrade, current or check")


if __name__ == "__main__":
    main()
