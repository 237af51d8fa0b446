"""What the browser tests measure on a page: accessibility (axe-core), horizontal overflow, upload speed, Lighthouse."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.fixtures.stack import REPO_ROOT

AXE = REPO_ROOT / ".cache/axe/node_modules/axe-core/axe.min.js"
AXE_INSTALL = "npm install --no-audit --no-fund --prefix .cache/axe axe-core@4.10.3"
LIGHTHOUSE_MODULES = REPO_ROOT / ".cache/lighthouse/node_modules"
LIGHTHOUSE_INSTALL = "npm install --no-audit --no-fund --prefix .cache/lighthouse lighthouse@12.8.2"
LIGHTHOUSE_RUNNER = Path(__file__).with_name("lighthouse.mjs")
IMAGES = Path(__file__).with_name("images")
PHOTOS = [IMAGES / "coffee.jpg", IMAGES / "coffee-closeup.jpg"]


def upload(path: Path) -> dict:
    """A file for set_input_files given as bytes (Playwright does not mix paths and bytes in one call)."""
    return {"name": path.name, "mimeType": "image/jpeg", "buffer": path.read_bytes()}


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (WCAG 2.x A and AA rules)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `{AXE_INSTALL}`")
    # evaluate() runs as the browser's own tooling, so the page's strict CSP (no inline scripts) still
    # holds for the page itself while axe is added; add_script_tag would be an inline script and be refused.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async () => {
            const { violations } = await axe.run(document, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
                resultTypes: ["violations"],
            });
            return violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['impact']}: {v['id']} ({v['help']}) at {v['targets']}"
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


def horizontal_overflow(page: Page) -> dict:
    """The page's scroll width against the viewport's, with the elements that stick out (empty when none)."""
    return page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const offenders = [...document.querySelectorAll("body *")]
                .filter((element) => element.getBoundingClientRect().right > width + 0.5)
                .filter((element) => !element.closest("dialog:not([open])"))
                .slice(0, 5)
                .map((element) => element.outerHTML.slice(0, 120));
            return { scrollWidth: document.documentElement.scrollWidth, width, offenders };
        }"""
    )


def assert_no_horizontal_overflow(page: Page) -> None:
    overflow = horizontal_overflow(page)
    assert overflow["scrollWidth"] <= overflow["width"] and not overflow["offenders"], overflow


def throttle_uploads(page: Page, bytes_per_second: int) -> None:
    """Slow the page's uploads down like a phone on a weak connection, so upload progress is observable."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": bytes_per_second},
    )


def lighthouse(urls: list[str], chromium: Path, runs: int = 4, timeout: float = 600) -> dict[str, list[dict]]:
    """Lighthouse's category scores (0-1) and failing audits for each URL, from one Chromium for all of them.

    A URL is run again, up to `runs` times, while its performance is below 1 or Lighthouse could not record
    the run (see lighthouse.mjs).
    """
    if not (LIGHTHOUSE_MODULES / "lighthouse/package.json").exists():
        pytest.fail(f"Lighthouse is missing: run `{LIGHTHOUSE_INSTALL}`")
    node = shutil.which("node")
    assert node, "Node.js is needed to run Lighthouse"
    result = subprocess.run(
        [node, str(LIGHTHOUSE_RUNNER), str(LIGHTHOUSE_MODULES), str(chromium), str(runs), *urls],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports: dict[str, list[dict]] = json.loads(result.stdout)
    return reports
