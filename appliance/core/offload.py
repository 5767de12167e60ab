"""Heavy work on an uploaded file (reading it, and for the register writing it) in a child process of its own.

Reading a 5,000-row XLSX is about a second of pure Python. On the web server's process it took the
interpreter from the request threads and the alarm path's threads while it ran (pages p99 1.9× the target
while register imports ran, bench/load.py, issue 14), and the parsed workbook stayed in the main process's
memory. In a child, the main process only waits on a pipe, the memory goes back when the child ends, and a
file built to take all memory (a zip bomb) hits the child's address-space limit instead of the appliance:
the upload gets a clear error, nothing else is touched.

Only plain, top-level functions are run this way (their arguments and result are pickled). A reader is pure;
a writer (the risk register's import) opens the database file in the child and asks this process, through
`serve`, for what only this process knows (the write gate's turn behind the gas alarms' writes, which of
the log's events are bulk items): its Python work then runs on the other core, below the appliance, and
its working set is the child's, not the appliance's (bench/load.py's maintenance phase, issue 14).

An ApplianceError raised in the child is raised again here with its code and both messages; another
exception is raised again as it was (a full disk is still a 507); running out of memory, or a child that
dies, is a BadFile naming what happened.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import pickle
import resource
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from appliance.core.errors import ApplianceError, ValidationFailed

log = logging.getLogger(__name__)
T = TypeVar("T")

# Address space of the child. The biggest register a plant may send (20,000 rows, 1.3 MB of XLSX) peaked at
# 73 MB resident and read within 384 MB of address space; a Pi 4 has 2–8 GB and the appliance must live on.
CHILD_MEMORY_MB = 512
OFFLOAD_FROM_BYTES = 64 * 1024   # smaller files are parsed in place: starting a child costs ~0.3 s
# One reader at a time, so uploads together are bounded too (three bombs in parallel took 3.4 GB, issue 14);
# the others wait their turn up to WAIT_S.
READERS = threading.BoundedSemaphore(1)
WAIT_S = 120.0


class BadFile(ValidationFailed):
    """The uploaded file could not be read: its reader ran out of memory or failed."""

    code = "bad_file"


class ReaderBusy(ApplianceError):
    """Another upload has been read for longer than WAIT_S; try again."""

    code = "reader_busy"
    http_status = 503


def _limit_memory(mb: int) -> None:
    """The child's start: below the appliance in the CPU queue (nice 10: the web's and the alarm path's
    threads go first on a 2-core box), and bounded in memory."""
    try:
        os.nice(10)
    except OSError:
        pass
    if mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mb * 1024 * 1024, mb * 1024 * 1024))


_IN_CHILD = False


def in_child() -> bool:
    """True in a child process started by `run`."""
    return _IN_CHILD


def _call(fn: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """Runs in the child: the result, or the error as plain data (ApplianceError's constructor takes two
    messages, so it does not come back through pickle by itself)."""
    try:
        return ("ok", fn(*args, **kwargs))
    except ApplianceError as exc:
        cls = type(exc)
        return ("error", cls.__module__, cls.__qualname__, exc.zh, exc.en, exc.code, exc.details)
    except MemoryError:
        return ("memory",)


def _rebuild(module: str, qualname: str, zh: str, en: str, code: str, details: Any) -> ApplianceError:
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if not (isinstance(cls, type) and issubclass(cls, ApplianceError)):
            raise TypeError(qualname)
    except (ImportError, AttributeError, TypeError):
        cls = ApplianceError
    err = cls.__new__(cls)
    Exception.__init__(err, en)
    err.zh, err.en, err.code, err.details = zh, en, code, details
    return err


def _child(conn: Connection, memory_mb: int, fn: Callable[..., Any], args: tuple, kwargs: dict, asks: bool) -> None:
    """The child's main: below the appliance, bounded, then fn; its outcome goes back on the pipe. With `asks`,
    fn gets `ask=`: send a request to the parent's `serve` and wait for its answer."""
    global _IN_CHILD
    _IN_CHILD = True
    _limit_memory(memory_mb)

    def ask(request: Any) -> Any:
        conn.send(("ask", request))
        return conn.recv()

    try:
        try:
            outcome = _call(fn, args, {**kwargs, "ask": ask} if asks else kwargs)
        except Exception as exc:   # not the file's fault (a bug, the disk full under a writer): raised again there
            try:
                pickle.dumps(exc)
            except Exception:
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            outcome = ("raised", exc)
        conn.send(outcome)
    except MemoryError:   # the outcome itself too big to send back
        conn.send(("memory",))
    finally:
        conn.close()


def run(fn: Callable[..., T], *args: Any, size: int | None = None, memory_mb: int = CHILD_MEMORY_MB,
        serve: Callable[[Any], Any] | None = None, **kwargs: Any) -> T:
    """fn(*args, **kwargs), in a fresh child process when `size` (the upload's bytes) is at least
    OFFLOAD_FROM_BYTES or not given, else here.

    With `serve`, fn also gets `ask=`: a request fn sends with it is answered by serve(request) in this
    process, in the calling thread, while fn waits (a writer in the child asks here for the write gate's turn
    and tells the bus which events are bulk items). In place, `ask` is serve itself."""
    if size is not None and size < OFFLOAD_FROM_BYTES:
        return fn(*args, **kwargs, **({"ask": serve} if serve is not None else {}))
    # spawn, not fork: the appliance's process has threads (web, bus, drivers) whose locks a fork would copy
    ctx = multiprocessing.get_context("spawn")
    if not READERS.acquire(timeout=WAIT_S):
        raise ReaderBusy("另一个文件正在读取，请稍后再试", "another file is being read; try again in a minute")
    try:
        outcome = _exchange(ctx, fn, args, kwargs, memory_mb, serve)
    finally:
        READERS.release()
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "raised":
        log.error("file reader process failed", extra={"fn": getattr(fn, "__name__", "?"), "error": repr(outcome[1])})
        raise outcome[1]
    if outcome[0] == "memory":
        raise BadFile(f"文件无法读取：读取所需内存超过 {memory_mb} MB（文件过大或已损坏）",
                      f"the file could not be read: it needs more than {memory_mb} MB to read (too large or damaged)")
    raise _rebuild(*outcome[1:])


def _exchange(ctx: Any, fn: Callable[..., Any], args: tuple, kwargs: dict, memory_mb: int,
              serve: Callable[[Any], Any] | None) -> tuple:
    """Start the child, answer its requests, return its outcome; a child that dies is a BadFile."""
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(there, memory_mb, fn, args, kwargs, serve is not None), daemon=True,
                       name=f"offload-{getattr(fn, '__name__', '?')}")
    proc.start()
    there.close()   # the child holds the only other end: its death is an EOF here
    try:
        while True:
            try:
                msg = here.recv()
            except (EOFError, OSError):
                proc.join(5)
                log.error("file reader process died", extra={"exitcode": proc.exitcode, "fn": getattr(fn, "__name__", "?")})
                raise BadFile("文件无法读取：读取进程异常退出（文件可能过大或已损坏）",
                              "the file could not be read: its reader process died (too large or damaged)") from None
            if msg[0] != "ask":
                return msg
            assert serve is not None
            answer = serve(msg[1])
            try:
                here.send(answer)
            except OSError:   # the child died meanwhile: its EOF is read next
                pass
    finally:
        here.close()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
