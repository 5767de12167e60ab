"""Heavy parsing of an uploaded file in a child process of its own.

Reading a 5,000-row XLSX is about a second of pure Python. On the web server's process it took the
interpreter from the request threads and the alarm path's threads while it ran (pages p99 1.9× the target
while register imports ran, bench/load.py, issue 14), and the parsed workbook stayed in the main process's
memory. In a child, the main process only waits on a pipe, the memory goes back when the child ends, and a
file built to take all memory (a zip bomb) hits the child's address-space limit instead of the appliance:
the upload gets a clear error, nothing else is touched.

Only plain, top-level functions of pure modules are run this way (their arguments and result are pickled);
they must not touch the database. An ApplianceError raised in the child is raised again here with its code
and both messages; anything else, or a child that dies, is a BadFile naming what happened.
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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


def run(fn: Callable[..., T], *args: Any, size: int | None = None, memory_mb: int = CHILD_MEMORY_MB,
        **kwargs: Any) -> T:
    """fn(*args, **kwargs), in a fresh child process when `size` (the upload's bytes) is at least
    OFFLOAD_FROM_BYTES or not given, else here."""
    if size is not None and size < OFFLOAD_FROM_BYTES:
        return fn(*args, **kwargs)
    # spawn, not fork: the appliance's process has threads (web, bus, drivers) whose locks a fork would copy
    ctx = multiprocessing.get_context("spawn")
    if not READERS.acquire(timeout=WAIT_S):
        raise ReaderBusy("另一个文件正在读取，请稍后再试", "another file is being read; try again in a minute")
    try:
        with ProcessPoolExecutor(1, mp_context=ctx, initializer=_limit_memory, initargs=(memory_mb,)) as pool:
            outcome = pool.submit(_call, fn, args, kwargs).result()
    except BrokenProcessPool as exc:
        log.error("file reader process died", extra={"error": str(exc), "fn": getattr(fn, "__name__", "?")})
        raise BadFile("文件无法读取：读取进程异常退出（文件可能过大或已损坏）",
                      "the file could not be read: its reader process died (too large or damaged)") from None
    finally:
        READERS.release()
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "memory":
        raise BadFile(f"文件无法读取：读取所需内存超过 {memory_mb} MB（文件过大或已损坏）",
                      f"the file could not be read: it needs more than {memory_mb} MB to read (too large or damaged)")
    raise _rebuild(*outcome[1:])
