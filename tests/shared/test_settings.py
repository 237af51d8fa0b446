"""Configuration is read once from the environment; a bad value stops start-up with its variable's name."""

import subprocess
import sys

import pytest

from restaurant_shared.settings import ConfigurationError, load_settings

BASE = {
    "POSTGRES_HOST": "db",
    "POSTGRES_DB": "reviews",
    "POSTGRES_USER": "app",
    "POSTGRES_PASSWORD": "local-only",
    "CELERY_BROKER_URL": "redis://redis:6379/0",
    "AZURE_STORAGE_ACCOUNT_URL": "https://account.blob.core.windows.net",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(__import__("os").environ):
        if name.startswith(("POSTGRES_", "AZURE_", "CELERY_", "THUMBNAIL_", "MAX_", "PHOTO_")):
            monkeypatch.delenv(name)
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_are_the_documented_ones(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.thumbnail_sizes == [320, 1280]
    assert settings.thumbnail_quality == 80
    assert settings.max_upload_bytes == 10 * 1024 * 1024
    assert settings.storage_uploads_container == "uploads"
    assert settings.storage_thumbnails_container == "thumbnails"
    assert settings.postgres_auth == "password"
    assert settings.photo_delivery == "stream"


def test_thumbnail_sizes_parse_from_a_comma_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("THUMBNAIL_SIZES", "1280, 320,640")
    assert load_settings().thumbnail_sizes == [320, 640, 1280]


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"POSTGRES_HOST": None}, "POSTGRES_HOST"),
        ({"MAX_UPLOAD_BYTES": "ten"}, "MAX_UPLOAD_BYTES"),
        ({"THUMBNAIL_SIZES": "320,99999"}, "THUMBNAIL_SIZES"),
        ({"POSTGRES_SSLMODE": "sometimes"}, "POSTGRES_SSLMODE"),
        ({"PHOTO_DELIVERY": "public"}, "PHOTO_DELIVERY"),
        ({"STORAGE_UPLOADS_CONTAINER": "Bad_Name"}, "STORAGE_UPLOADS_CONTAINER"),
        ({"AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}, "AZURE_STORAGE_CONNECTION_STRING"),
        ({"AZURE_STORAGE_ACCOUNT_URL": None}, "AZURE_STORAGE_ACCOUNT_URL"),
        ({"POSTGRES_PASSWORD": None}, "POSTGRES_PASSWORD"),
        ({"POSTGRES_AUTH": "entra"}, "POSTGRES_PASSWORD must be unset"),
    ],
)
def test_bad_configuration_names_the_variable(env: pytest.MonkeyPatch, changes: dict, variable: str) -> None:
    for name, value in changes.items():
        if value is None:
            env.delenv(name)
        else:
            env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_entra_mode_needs_no_password(env: pytest.MonkeyPatch) -> None:
    env.delenv("POSTGRES_PASSWORD")
    env.setenv("POSTGRES_AUTH", "entra")
    assert load_settings().postgres_password is None


def test_web_refuses_to_start_with_bad_configuration() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from restaurant_web.app import create_app; create_app()"],
        env={"PATH": "/usr/bin:/bin", "POSTGRES_HOST": "db"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Invalid configuration" in result.stderr and "CELERY_BROKER_URL" in result.stderr


@pytest.mark.parametrize(
    "value", ["reviews.example.com", "ftp://reviews.example.com", "https://reviews.example.com/app", "https://:80"]
)
def test_public_base_url_must_be_an_origin(env: pytest.MonkeyPatch, value: str) -> None:
    env.setenv("PUBLIC_BASE_URL", value)
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL"):
        load_settings()


def test_public_base_url_is_kept_without_a_trailing_slash_and_blank_is_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("PUBLIC_BASE_URL", "https://Reviews.Example.com:8443/")
    assert load_settings().public_base_url == "https://reviews.example.com:8443"
    env.setenv("PUBLIC_BASE_URL", "")
    assert load_settings().public_base_url is None
