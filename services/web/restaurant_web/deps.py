"""Dependencies that routes declare by type, so route signatures read like sentences."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from restaurant_shared.blobstore import BlobStore
from restaurant_shared.settings import Settings
from restaurant_web.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(services: Annotated[Services, Depends(get_services)]) -> Settings:
    return services.settings


def get_store(services: Annotated[Services, Depends(get_services)]) -> BlobStore:
    return services.store


def get_session(services: Annotated[Services, Depends(get_services)]) -> Iterator[Session]:
    with services.db.session() as session:
        yield session


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[BlobStore, Depends(get_store)]
SessionDep = Annotated[Session, Depends(get_session)]
