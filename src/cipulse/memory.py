"""The server process's memory given back to the system.

The server process's memory, given back. CPython frees objects into glibc's malloc, which
keeps freed pages for later and, with many threads, keeps one arena per thread: a server that
once answered a large read holds that memory for good. Two calls bound it: fewer arenas, set
before the threads start, and freed pages returned to the system now and then (``trim``, from
the maintenance thread). Both do nothing where the C library is not glibc."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

#: ``mallopt``'s parameter for the number of arenas (glibc's malloc.h).
M_ARENA_MAX = -8
#: Arenas a server process keeps: threads share them (glibc's default is 8 per core).
ARENAS = 2


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas() -> None:
    """Share ``ARENAS`` malloc arenas between the process's threads (call before they start)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, ARENAS)


def trim() -> None:
    """Return the pages malloc holds free to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
