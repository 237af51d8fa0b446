"""Engine and sessions. With POSTGRES_AUTH=entra every new connection gets a fresh token as password."""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from restaurant_shared.identity import POSTGRES_SCOPE, get_credential
from restaurant_shared.settings import Settings


def database_url(settings: Settings) -> URL:
    password = settings.postgres_password.get_secret_value() if settings.postgres_password else None
    return URL.create(
        "postgresql+psycopg2",
        username=settings.postgres_user,
        password=password,
        host=settings.postgres_host,
        port=settings.postgres_port,
        database=settings.postgres_db,
        query={"sslmode": settings.postgres_sslmode},
    )


def create_db_engine(settings: Settings, **engine_options: Any) -> Engine:
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_recycle": 1800,
        "connect_args": {"connect_timeout": 5, "application_name": "restaurant-reviews"},
    }
    options.update(engine_options)
    engine = create_engine(database_url(settings), **options)
    if settings.postgres_auth == "entra":
        credential = get_credential(settings)

        @event.listens_for(engine, "do_connect")
        def _token_as_password(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
            # Always overwrite: tokens expire (about an hour), and the credential returns its cached
            # token until shortly before expiry, so this costs a network call only when needed.
            cparams["password"] = credential.get_token(POSTGRES_SCOPE).token

    return engine


class Database:
    """One engine per process, created lazily so that forked children never reuse a parent's pool."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine = create_db_engine(self._settings)
                self._sessions = sessionmaker(self._engine, expire_on_commit=False)
                self._pid = os.getpid()
            return self._engine

    def session(self) -> Session:
        engine = self.engine
        assert self._sessions is not None and self._sessions.kw["bind"] is engine
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session() as session, session.begin():
            yield session

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._sessions = None
