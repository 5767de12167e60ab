"""A full data disk, handled: space held back for safety records, a clear error for everything else.

At start the appliance keeps a reserve file of `storage.reserve_mb` in the data directory. When a write
fails because the disk is full, a *safety* write (a gas alarm, an acknowledgement, a badge tap) releases the
reserve and is retried, so it is stored; any other write gets a 507 naming the disk. Health shows the disk
degraded before it is full, and a fault once the reserve is used or writes fail; the reserve is made again
at the next start with room for it.
"""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import peewee

log = logging.getLogger(__name__)

RESERVE_NAME = ".safety-reserve"
T = TypeVar("T")

_lock = threading.Lock()
_state: dict = {"reserve": None, "released_at": None, "last_full_at": None, "last_full": None}


def is_disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL ("database or disk is full") or the OS's ENOSPC, however wrapped."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(e, (sqlite3.OperationalError, peewee.OperationalError)) and "full" in str(e).lower():
            return True
        e = e.__cause__ or e.__context__
    return False


def make_reserve(data_dir: Path, mb: int) -> bool:
    """Hold back `mb` MB in the data directory (written, not sparse, so the space is really taken)."""
    path = Path(data_dir) / RESERVE_NAME
    with _lock:
        if _state["reserve"] != path:  # another data directory: failures seen on the old disk are not this one's
            _state.update(released_at=None, last_full_at=None, last_full=None)
        _state["reserve"] = path
        if mb <= 0:
            return False
        want = mb * 1024 * 1024
        try:
            if path.exists() and path.stat().st_size >= want:
                _state["released_at"] = None
                return True
            chunk = b"\0" * (1024 * 1024)
            with open(path, "wb") as fh:
                for _ in range(mb):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            _state["released_at"] = None
            return True
        except OSError as exc:
            path.unlink(missing_ok=True)
            log.error("no room for the safety reserve", extra={"path": str(path), "error": str(exc)})
            return False


def release_reserve() -> bool:
    """Give the reserve's space to the database (once); True when there was one to give."""
    with _lock:
        path = _state["reserve"]
        if path is None or not path.exists():
            return False
        path.unlink()
        _state["released_at"] = int(time.time() * 1000)
    log.critical("data disk full: safety reserve released for safety records", extra={"path": str(path)})
    return True


def note_full(exc: BaseException) -> None:
    with _lock:
        _state["last_full_at"] = time.monotonic()
        _state["last_full"] = str(exc)


def safety_write(fn: Callable[[], T]) -> T:
    """Run a safety record's write; when the disk is full, release the reserve and write it again."""
    try:
        return fn()
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        note_full(exc)
        if not release_reserve():
            raise
        return fn()


def status() -> dict:
    """For the disk health component: whether the reserve is held, and recent full-disk failures."""
    with _lock:
        path = _state["reserve"]
        recent = _state["last_full_at"] is not None and time.monotonic() - _state["last_full_at"] < 300
        return {"reserve_held": bool(path is not None and path.exists()), "reserve_released_at": _state["released_at"],
                "writes_failing": recent, "last_error": _state["last_full"] if recent else None}
