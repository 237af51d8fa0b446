"""The web application: `restaurant_web.app:create_app` (an app factory for uvicorn/gunicorn)."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from PIL import Image

from restaurant_shared import telemetry as shared_telemetry
from restaurant_shared.logging import configure_logging
from restaurant_shared.settings import Settings, get_settings
from restaurant_web import telemetry
from restaurant_web.errors import install_error_handlers
from restaurant_web.moderation import routes as moderation
from restaurant_web.ratelimit import RateLimitMiddleware, RateLimits
from restaurant_web.routes import api, docs, health, pages, photos, seo
from restaurant_web.security import SecurityMiddleware
from restaurant_web.services import Services

log = logging.getLogger("restaurant_web")
STATIC_DIR = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    # Pillow refuses to even open an image over twice this (see uploads.read_dimensions).
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    services = Services.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await anyio.to_thread.run_sync(services.store.ensure_containers)
        except Exception as exc:  # storage may come up later; /readyz reports it meanwhile
            log.warning("could not ensure blob containers at start-up: %s", type(exc).__name__)
        yield
        services.close()
        shared_telemetry.shutdown()

    app = FastAPI(
        title="Restaurant reviews",
        version="0.1.0",
        description="Restaurants, reviews with a 1-5 rating, text and photos. Thumbnails are made in the background.",
        lifespan=lifespan,
        docs_url=None,  # routes/docs.py serves /docs without a CDN or inline script
        redoc_url=None,
    )
    app.state.services = services
    # The last added runs first: security headers and the CSRF cookie wrap every response, 429s included.
    app.add_middleware(RateLimitMiddleware, limit=RateLimits(settings))
    app.add_middleware(SecurityMiddleware)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    routers = (pages.router, api.router, moderation.pages, moderation.api, photos.router, health.router, seo.router)
    for router in routers:
        app.include_router(router)
    docs.install(app)
    telemetry.instrument(app, settings)
    return app
