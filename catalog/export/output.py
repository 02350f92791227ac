"""Atomic output: write to a temp file beside the target and rename, so a failed
export never leaves half a file where a complete one is expected."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def final_mode(target: str | Path) -> int:
    """The mode a written file should end with: the replaced file's, else 0666 less the umask.

    mkstemp creates its file 0600 whatever the umask, and the rename keeps that mode: without
    this, every export and feed would be readable by its owner alone."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        pass
    umask = os.umask(0)  # the only portable way to read it: set and put back at once
    os.umask(umask)
    return 0o666 & ~umask


def publish(tmp: str | Path, target: str | Path) -> None:
    """Give the finished temp file its final mode and rename it onto `target`."""
    os.chmod(tmp, final_mode(target))
    os.replace(tmp, target)


@contextmanager
def open_output(path: str | None, *, newline: str | None = None, encoding: str = "utf-8") -> Iterator[TextIO]:
    """`path` None or "-": stdout. Otherwise a temp file renamed onto `path` on success.

    `encoding="utf-8-sig"` starts the file with a byte order mark (what Excel needs to read UTF-8)."""
    if path in (None, "-"):
        if encoding == "utf-8-sig":
            sys.stdout.write("\ufeff")
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    try:
        # newline="" so the CSV writer's own \r\n is not translated again
        with os.fdopen(fd, "w", encoding=encoding, newline=newline) as handle:
            yield handle
        publish(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
