"""Telemetry settings: off unless an exporter is named, blank means unset, bad values stop start-up."""

import pytest

from restaurant_shared.settings import ConfigurationError, Settings, load_settings
from restaurant_shared.telemetry import is_enabled
from restaurant_shared.telemetry.setup import service_resource
from tests.fixtures.stack import AppEnv

TELEMETRY = (
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, app_env: AppEnv) -> pytest.MonkeyPatch:
    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    for name in TELEMETRY:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_off_by_default_and_when_blank(env: pytest.MonkeyPatch) -> None:
    assert not is_enabled(load_settings())
    for name in TELEMETRY[:2]:
        env.setenv(name, "")
    settings = load_settings()
    assert settings.applicationinsights_connection_string is None and settings.otel_exporter_otlp_endpoint is None
    assert not is_enabled(settings)


@pytest.mark.parametrize("name", TELEMETRY[:2])
def test_either_exporter_turns_it_on(env: pytest.MonkeyPatch, name: str) -> None:
    env.setenv(name, "http://collector:4318" if name.startswith("OTEL") else "InstrumentationKey=0;")
    assert is_enabled(load_settings())


@pytest.mark.parametrize(
    "name, value", [("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]
)
def test_bad_values_stop_start_up_naming_the_variable(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name):
        load_settings()


def test_each_service_names_itself_unless_told(app_env: AppEnv) -> None:
    settings: Settings = app_env.settings()
    assert service_resource(settings, "restaurant-web").attributes["service.name"] == "restaurant-web"
    named = app_env.settings(OTEL_SERVICE_NAME="reviews-web-eu")
    assert service_resource(named, "restaurant-web").attributes["service.name"] == "reviews-web-eu"


def test_the_connection_string_is_kept_out_of_reprs(app_env: AppEnv) -> None:
    settings = app_env.settings(APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=abc123;")
    assert "abc123" not in repr(settings)
