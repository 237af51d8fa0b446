from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from restaurant_shared.settings import Settings
from restaurant_web.app import create_app
from restaurant_web.security import CSRF_COOKIE


class Browser(TestClient):
    """A TestClient that behaves like a browser on our pages: it has the CSRF cookie and sends it back."""

    def csrf_token(self) -> str:
        if CSRF_COOKIE not in self.cookies:
            self.get("/restaurants/new")
        return str(self.cookies[CSRF_COOKIE])


@pytest.fixture
def client(settings: Settings, clean_state: None) -> Iterator[Browser]:
    with Browser(create_app(settings), base_url="http://testserver") as browser:
        yield browser


def make_restaurant(client: TestClient, name: str = "Chez Test", **fields: str) -> dict:
    response = client.post("/api/restaurants", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()
