"""Atomic output: write to a temp file beside the target and rename, so a failed
export never leaves half a file where a complete one is expected."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def open_output(path: str | None, *, newline: str | None = None) -> Iterator[TextIO]:
    """`path` None or "-": stdout. Otherwise a temp file renamed onto `path` on success."""
    if path in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    try:
        # newline="" so the CSV writer's own \r\n is not translated again
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
