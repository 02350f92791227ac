"""Screenshots of the web catalog for docs/web.md: the search page and a record page, in Debian's
Chromium, from the browser tests' catalog (two syncs of the fixture documents).

    PYTHONPATH=. python -m tests.web.screenshots        # writes docs/img/web-search.png, web-record.png
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.web.browser import ROOT, chromium
from tests.web.conftest import build_web_catalog, serving

OUT = ROOT / "docs" / "img"
SHOTS = {
    "web-search.png": "/?q=Kohl",
    "web-record.png": "/records/175798",
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = build_web_catalog(Path(tmp))
        with serving(catalog) as server, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=server.url)
            for name, path in SHOTS.items():
                page.goto(path)
                page.screenshot(path=str(OUT / name))
                print(f"wrote {OUT / name} ({server.url}{path})")
            page.close()


if __name__ == "__main__":
    main()
