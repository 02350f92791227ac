"""Tasks for tests/harvest/test_workers.py, in a module the worker processes can import."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def double(value: int) -> int:
    return 2 * value


def killed_once(marker: str, value: int) -> int:
    """SIGKILLs its own worker the first time (as the out-of-memory killer would), then works."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * value


def echo(data: bytes) -> bytes:
    return data


def always_killed(value: int) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return value


def fails(value: int) -> int:
    raise ValueError(f"bad value {value}")


def sleep(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def broken_initializer() -> None:
    raise RuntimeError("cannot start")


def worker_state(_: int = 0) -> dict[str, object]:
    """What a worker process has imported, and how many objects it holds frozen (gc.freeze). A
    module whose entry is None was never imported (harvester/__init__.py: httpx._main)."""
    import gc
    import sys

    return {"modules": sorted(name for name, module in sys.modules.items() if module is not None),
            "frozen": gc.get_freeze_count()}


def _refuse_to_load() -> object:
    raise ValueError("this argument cannot be loaded here")


class LoadsNowhere:
    """Pickles, but raises when unpickled (in a worker): a task that cannot be read there."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return _refuse_to_load, ()
