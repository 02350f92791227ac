"""Tests that need an outside tool (node with citeproc-js, biber) skip on a developer's machine
without it, but fail in CI: `.ci/run` installs the tools and sets WCDA_REQUIRE_TOOLS=1, so a
failed install shows up as a failed test instead of a check that silently did not run."""

from __future__ import annotations

import os

import pytest


def needs_tool(missing: bool, reason: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(missing and not os.environ.get("WCDA_REQUIRE_TOOLS"), reason=reason)
