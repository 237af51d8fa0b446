"""The process's connections to Postgres, Blob and the broker, built once and shared by all requests."""

from dataclasses import dataclass

from celery import Celery

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.db import Database
from restaurant_shared.settings import Settings
from restaurant_shared.taskqueue import create_celery


@dataclass
class Services:
    settings: Settings
    db: Database
    store: BlobStore
    celery: Celery

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        return cls(
            settings=settings,
            db=Database(settings),
            store=BlobStore.from_settings(settings),
            celery=create_celery(settings, name="restaurant-web"),
        )

    def close(self) -> None:
        self.db.dispose()
