"""Worker processes for parsing, supervised: a dead worker is replaced, no worker outlives us.

`concurrent.futures.ProcessPoolExecutor` treats one dead worker (the out-of-memory killer,
a SIGKILL) as the end of the whole pool: every pending future fails with BrokenProcessPool,
so a harvest lost everything in flight. And its workers hang on after the main process is
killed, holding the terminal's stdout open (`| tee` and cron then wait for ever).

`SupervisedPool` keeps the same `submit(fn, *args) -> Future` interface, with:
- one pipe per worker and at most `IN_FLIGHT` tasks a worker, done in the order sent, so the
  pool always knows which task a dead worker held (its oldest unanswered one): the worker is
  replaced and that task given to a new one once, the tasks queued behind it as if never
  sent; a task whose worker dies a second time fails alone (`WorkerDied`);
- workers that die with the main process: each runs a watchdog thread blocked on a pipe
  whose only write end the main process holds, so the kernel's end of file on it (the
  main process is gone, however it died) makes the worker exit at once, even mid-parse.
  With the fork server the workers' parent is the server, not the main process, and the
  server lives as long as any worker does (each worker holds its "alive" pipe), so
  PR_SET_PDEATHSIG alone does not reach them; it is still set (Linux), for pools whose
  workers are the main process's own children ("fork", "spawn").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import queue
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from multiprocessing import connection
from multiprocessing.context import BaseContext
from typing import Any

from catalog.errors import WorkerDied

# How many times a task is started in all: once, plus once more in a fresh worker.
ATTEMPTS = 2
# Tasks sent to a worker before it answers the first. With one, a worker that finished waited
# idle for its next page until this process's supervising thread got the GIL back from the
# fetch and store threads (up to the 5 ms switch interval, then the pickling): measured with
# bench/harvest.py, the one parse worker of a 2-core harvest was busy ~67 % of the run. With
# two, the next page is already in its pipe.
IN_FLIGHT = 2
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel for SIGKILL when our parent exits (Linux); elsewhere the pipe's EOF does it."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _watch_main_process(alive: connection.Connection) -> None:
    """In a worker's watchdog thread: nothing is ever sent, so this returns only at EOF."""
    try:
        alive.recv_bytes()
    except (EOFError, OSError):
        pass
    os._exit(1)


def _worker_main(conn: connection.Connection, alive: connection.Connection,
                 initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
    # What the worker was forked with (the modules its fork server imported) stays shared with
    # the server until a page of it is written. The cyclic collector writes into every object it
    # scans, so its first full collection here would copy most of those pages into this process;
    # frozen, they are never scanned. Measured with bench/harvest.py while the fork server still
    # preloaded the whole pipeline: 12-16 MB less PSS over the server and its worker. The server
    # now freezes what it imports itself (harvester/fork_server.py); this also covers what the
    # worker built since the fork (its arguments, the main module). Nothing is lost: modules and
    # classes live as long as we do.
    gc.freeze()
    _die_with_parent()
    threading.Thread(target=_watch_main_process, args=(alive,), name="watchdog", daemon=True).start()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    if initializer is not None:
        initializer(*initargs)
    # Tasks are read as they come, by a thread of their own: with tasks queued behind the one
    # being run, the main process may be sending the next (a large page fills the pipe) while
    # this worker sends a large result back; if neither read, both would wait for ever.
    tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_receive, args=(conn, tasks), name="tasks", daemon=True).start()
    while True:
        task = tasks.get()
        if task is None:
            return  # shut down, or the main process is gone
        reply: tuple[bool, Any]
        if isinstance(task, _Unreadable):
            reply = (False, RuntimeError(f"the task could not be read in the worker: "
                                         f"{type(task.exc).__name__}: {task.exc}"))
        else:
            fn, args = task
            try:
                reply = (True, fn(*args))
            except BaseException as exc:  # the task's error, handed to its future
                reply = (False, exc)
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            return
        except Exception as exc:  # a result or an exception that does not pickle
            conn.send((False, RuntimeError(f"result could not be sent back: {type(exc).__name__}: {exc}")))


class _Unreadable:
    """A task that arrived but could not be unpickled here: answered with its error, in turn."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _receive(conn: connection.Connection, tasks: queue.SimpleQueue[Any]) -> None:
    """In a worker: hand each task received to the worker's main thread; None at the end."""
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            task = None  # the main process is gone
        except Exception as exc:  # read whole, so the next task is still read right
            task = _Unreadable(exc)
        tasks.put(task)
        if task is None:
            return


class _Task:
    __slots__ = ("fn", "args", "future", "attempts")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: Future) -> None:
        self.fn, self.args, self.future, self.attempts = fn, args, future, 0


class _Worker:
    def __init__(self, context: BaseContext, alive: connection.Connection,
                 initializer: Callable[..., None] | None, initargs: Sequence[Any]) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child, alive, initializer, initargs), daemon=True, name="parse-worker")
        self.process.start()
        child.close()  # only the worker holds its end now: its EOF means we are gone, and ours means it is
        self.tasks: deque[_Task] = deque()  # sent and not answered yet, oldest (the one it runs) first
        self.answered = 0  # tasks this worker finished


class SupervisedPool:
    """`workers` processes from `context`, each running `initializer(*initargs)` first."""

    def __init__(self, workers: int, context: BaseContext, *, initializer: Callable[..., None] | None = None,
                 initargs: Sequence[Any] = ()) -> None:
        self._context = context
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._pending: deque[_Task] = deque()
        self._lock = threading.Lock()
        self._closing = False
        self._wake_r, self._wake_w = context.Pipe(duplex=False)
        # The workers' watchdogs read `_alive_r`; only this process holds `_alive_w`.
        self._alive_r, self._alive_w = context.Pipe(duplex=False)
        self._workers = [self._start_worker() for _ in range(max(1, workers))]
        self.replaced = 0  # workers that died and were replaced (for reports and tests)
        self._barren = 0  # workers in a row that died before answering anything
        self._broken: str | None = None  # why the pool stopped replacing workers
        self._thread = threading.Thread(target=self._supervise, name="parse-pool", daemon=True)
        self._thread.start()

    # -- the interface -------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closing:
                raise RuntimeError("the pool is shut down")
            if self._broken:
                future.set_exception(WorkerDied(self._broken))
                return future
            self._pending.append(_Task(fn, args, future))
        self._wake()
        return future

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def shutdown(self) -> None:
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake()
        self._thread.join()

    def __enter__(self) -> SupervisedPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # -- the supervising thread ----------------------------------------------------
    def _start_worker(self) -> _Worker:
        return _Worker(self._context, self._alive_r, self._initializer, self._initargs)

    def _wake(self) -> None:
        try:
            self._wake_w.send_bytes(b"w")
        except OSError:
            pass

    def _dispatch(self) -> None:
        with self._lock:
            # Round by round, so that every idle worker gets a task before any gets a second.
            for _ in range(IN_FLIGHT):
                for worker in self._workers:
                    if len(worker.tasks) < IN_FLIGHT and self._pending:
                        self._send(worker, self._pending.popleft())

    def _send(self, worker: _Worker, task: _Task) -> None:
        if not task.future.running() and not task.future.set_running_or_notify_cancel():
            return  # cancelled before it started
        task.attempts += 1
        worker.tasks.append(task)
        try:
            worker.conn.send((task.fn, task.args))
        except (OSError, EOFError):
            pass  # the worker is dead: its sentinel says so on the next round
        except Exception as exc:  # the task does not pickle: its own failure
            worker.tasks.pop()
            task.future.set_exception(exc)

    def _replace(self, index: int) -> None:
        """The worker at `index` died: start another and give it the dead one's task (once), and
        the tasks queued behind that one as if never sent."""
        dead = self._workers[index]
        dead.process.join(timeout=1)
        code = dead.process.exitcode
        dead.conn.close()
        self.replaced += 1
        task = dead.tasks.popleft() if dead.tasks else None
        # A worker runs its tasks in the order sent and every answer before its death was read,
        # so the ones behind the oldest never started: back to the queue, no attempt counted.
        waiting = list(dead.tasks)
        dead.tasks.clear()
        with self._lock:
            for t in reversed(waiting):
                t.attempts -= 1
                self._pending.appendleft(t)
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        # A worker that cannot even start (its initializer fails) would be replaced for ever:
        # after a few in a row that never answered, the pool fails what it holds instead.
        self._barren = 0 if dead.answered else self._barren + 1
        if self._barren > len(self._workers) + ATTEMPTS:
            self._broken = f"parse worker processes die before doing any work ({how})"
            self._fail_all(task)
            return
        self._workers[index] = self._start_worker()
        if task is None:
            return
        if task.attempts < ATTEMPTS:
            with self._lock:
                self._pending.appendleft(task)
            return
        task.future.set_exception(WorkerDied(f"the parse worker process died ({how}) on each of {task.attempts} "
                                             "attempts"))

    def _fail_all(self, task: _Task | None) -> None:
        with self._lock:
            held = [task] if task is not None else []
            held += [t for w in self._workers for t in w.tasks] + list(self._pending)
            self._pending.clear()
            for w in self._workers:
                w.tasks.clear()
        for t in held:
            if not t.future.done():
                t.future.set_exception(WorkerDied(self._broken or "the pool broke"))

    def _supervise(self) -> None:
        try:
            while True:
                self._dispatch()
                with self._lock:
                    closing = self._closing
                busy = [w for w in self._workers if w.tasks]
                if closing and not busy and not self._pending:
                    return
                waits: list[Any] = [self._wake_r]
                for w in self._workers if not self._broken else ():  # broken: only wait to be shut down
                    waits.append(w.process.sentinel)
                    if w.tasks:
                        waits.append(w.conn)
                ready = connection.wait(waits)
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                for i, w in enumerate(list(self._workers)):
                    if w.tasks and w.conn in ready:
                        self._read_answers(i, w)
                    elif w.process.sentinel in ready and not w.process.is_alive():
                        self._replace(i)
        except BaseException as exc:  # e.g. no new process could be started: fail tasks, never hang them
            self._broken = f"the parse pool failed: {type(exc).__name__}: {exc}"
            raise
        finally:
            self._stop_workers()

    def _read_answers(self, index: int, w: _Worker) -> None:
        """Every answer `w` has sent (they arrive in the order of its tasks); replace it if it died."""
        while w.tasks:
            try:
                ok, value = w.conn.recv()
            except (EOFError, OSError):
                self._replace(index)  # died while answering, or before answering the rest
                return
            task = w.tasks.popleft()
            w.answered += 1
            if ok:
                task.future.set_result(value)
            else:
                task.future.set_exception(value)
            if not w.conn.poll():
                return

    def _stop_workers(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except (OSError, EOFError):
                pass
        for w in self._workers:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
            for task in w.tasks:
                if not task.future.done():
                    task.future.set_exception(WorkerDied("the pool was shut down"))
        for task in self._pending:
            if not task.future.done():
                task.future.set_exception(WorkerDied("the pool was shut down"))
        for conn in (self._wake_r, self._wake_w, self._alive_r, self._alive_w):
            conn.close()
