"""Debian's Chromium driven by Playwright for Python (Playwright's own browser download cannot
work on the build machines: `.ci/run` installs the `chromium` package), and axe-core from
tools/axe (`npm ci` there)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
# What the accessibility check holds the pages to: WCAG 2.0/2.1 A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium; "
                           ".ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the context must bypass the pages' CSP,
    which allows no injected script)."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `npm ci` in tools/axe (.ci/run does)")
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS)
    return list(result["violations"])


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical ones, one line each (rule, impact, first offending element)."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes'][0]['target'] if v['nodes'] else '?'}"
            for v in violations if v.get("impact") in ("serious", "critical")]
