"""Getting pages from the Wilson Center Digital Archive: HTTP, politeness, WARC, replay, parsing."""

__version__ = "0.1.0"
TOOL_NAME = "wcda-harvester"
