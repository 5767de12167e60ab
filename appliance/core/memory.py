"""The process's memory allocator settings, applied once at start before the threads exist.

glibc gives threads their own malloc arenas (up to 8 per core); each keeps what its thread freed, so a web
server of ~100 threads holds the peak of every thread at once. Measured on the load bench's database
(1 M events, 100 k hazards) with 30 concurrent clients: 221 MB with glibc's default, 158 MB with two arenas,
at the same request times (issue 14). MALLOC_ARENA_MAX in the environment does the same, but only if it is
set before the interpreter starts; mallopt() works from here for every thread created afterwards.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform

log = logging.getLogger(__name__)

M_ARENA_MAX = -8   # glibc's malloc.h
ARENAS = 2


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas; False (and nothing changed) on a C library that is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError) as exc:
        log.warning("malloc arenas not limited", extra={"error": str(exc)})
        return False
    if not ok:
        log.warning("malloc arenas not limited", extra={"error": "mallopt refused"})
    return ok


def trim() -> bool:
    """Hand the heap's free pages back to the system (glibc malloc_trim(0), every arena) without a garbage
    collection (which would hold the interpreter for the whole heap's walk). A web server's threads free
    memory in the middle of the heap; glibc returns only the top of it by itself, so a register import or a
    burst of pages left the process ~10 MB above what it uses (bench/load.py's maintenance phase: memory <=
    150 MB, issue 14). False on a C library that is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")   # ctypes lets go of the GIL meanwhile
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError) as exc:
        log.warning("freed memory not given back", extra={"error": str(exc)})
        return False


def give_back_freed() -> bool:
    """Collect garbage and hand the heap's free pages back to the system (glibc malloc_trim): after a one-off
    burst of work (the demo's first-start seeding of a synthetic year, a register import) the process otherwise
    keeps its peak for good: 26 MB on the demo's first start (bench/footprint.py, issue 14). False on a C
    library that is not glibc (the garbage is still collected)."""
    import gc

    gc.collect()
    return trim()


def freeze_startup() -> int:
    """Collect the start's garbage once, then move every object alive now (modules, the app, its templates'
    code, the domains' tables) out of the garbage collector's view for good (gc.freeze). Without it each
    full collection walked them all: 56-80 ms with the interpreter held, every 10-15 s under bench/load.py's
    50 clients, and every request in flight waited (the pages' p99, issue 14). Objects made later are
    collected as before. Returns how many objects were frozen."""
    import gc

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def unfreeze() -> None:
    """Hand the frozen objects back to the collector (the appliance stopped; a process that starts another,
    as the tests do, must not keep the first one's cycles for good)."""
    import gc

    gc.unfreeze()
