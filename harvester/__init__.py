"""Getting pages from the Wilson Center Digital Archive: HTTP, politeness, WARC, replay, parsing."""

import sys

__version__ = "0.1.0"
TOOL_NAME = "wcda-harvester"

# Here, before harvester/http.py (the one module that imports httpx) can run: httpx's package
# imports its own command-line client (httpx._main) whenever click, rich and pygments are
# installed, as they are beside many tools (and with our test extras). Measured: 5 MB of a
# harvest's memory and ~30 ms of its start-up, for a program the harvester never runs. A None
# entry makes that import fail as it does when they are missing, and httpx keeps its stub
# `main`. Nothing changes where httpx was imported first.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
