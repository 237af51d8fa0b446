"""Debian's Chromium, driven by Playwright, against the real stack: web and worker processes, Postgres, Redis, Azurite.

Every page a test opens is watched: a console error, an uncaught exception or a request to another origin fails
the test (a test may allow a console message it causes on purpose, such as a 4xx answer to a bad upload).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.fixtures.processes import WebProcess, WorkerProcess
from tests.fixtures.stack import AppEnv

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 375, "height": 800}, "is_mobile": True, "has_touch": True, "device_scale_factor": 1}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "device_scale_factor": 1}

expect.set_options(timeout=10_000)


@dataclass
class Site:
    web: WebProcess
    worker: WorkerProcess

    @property
    def url(self) -> str:
        return self.web.url


@pytest.fixture(scope="package")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's package with `apt-get install -y chromium`")
    browser = playwright_session.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def site(app_env: AppEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One web and one worker process for the browser tests; tests make their own restaurants.

    Stopped when the package's tests end, so this worker never takes tasks meant for other tests' workers.
    """
    log_dir = tmp_path_factory.mktemp("browser-logs")
    # Platform authentication as App Service / Container Apps would have it: a moderator's context sends the
    # principal header the platform adds; every other page is a visitor's, without it.
    web = WebProcess(app_env, log_dir, extra_env={"AUTH_MODE": "platform"}).start()
    worker = WorkerProcess(app_env, log_dir).start()
    yield Site(web, worker)
    worker.stop()
    web.stop()


@dataclass
class Watch:
    """What a page did that it must not: console errors, uncaught exceptions, requests to other origins."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow_console_error(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def attach(self, page: Page) -> None:
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))
        page.on("request", self._on_request)

    def _on_request(self, request: object) -> None:
        url = request.url  # type: ignore[attr-defined]
        scheme, netloc, *_ = urlsplit(url)
        if scheme in ("data", "blob"):
            return
        if f"{scheme}://{netloc}" != self.origin:
            self.foreign_requests.append(url)

    def check(self) -> None:
        unexpected = [text for text in self.console_errors if not any(p.search(text) for p in self.allowed)]
        assert unexpected == [], f"console errors: {unexpected}"
        assert self.foreign_requests == [], f"requests to other origins: {self.foreign_requests}"


@pytest.fixture
def watch(site: Site) -> Iterator[Watch]:
    """The watch over this test's pages, checked after the test."""
    page_watch = Watch(origin=site.url)
    yield page_watch
    page_watch.check()


def open_page(browser: Browser, site: Site, watch: Watch, options: dict) -> tuple[BrowserContext, Page]:
    """A watched page in a new browser context (its own cookies and cache)."""
    context = browser.new_context(base_url=site.url, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch.attach(page)
    return context, page


@pytest.fixture
def phone(browser: Browser, site: Site, watch: Watch) -> Iterator[Page]:
    """A page in a 375×800 touch viewport, like a phone's."""
    context, page = open_page(browser, site, watch, PHONE)
    yield page
    context.close()


@pytest.fixture
def desktop(browser: Browser, site: Site, watch: Watch) -> Iterator[Page]:
    context, page = open_page(browser, site, watch, DESKTOP)
    yield page
    context.close()
