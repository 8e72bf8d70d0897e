"""Sharing the cores: how many threads a parallel kernel should use while other processes keep cores busy.

A team of n threads that meets at barriers (an OpenMP region of oneDNN, cnnkit's batch split) runs at the pace of
its slowest member. When other processes keep cores busy, n threads on fewer free cores take turns with them,
and each barrier waits a scheduler time slice for the member that was preempted: on 2 cores with one kept busy
by another process, a 1×1 convolution that takes 8.6 ms on two threads took up to 112 ms on two threads and at
most 18.7 ms on one (docs/performance.md, "Sharing the cores"). So a kernel uses one thread fewer per busy core:

    others     = runnable tasks on the machine − this process's running threads
    threads(n) = n                                  if others = 0
               = max(1, min(n, cores − others))     otherwise

The machine's runnable tasks are the kernel's instantaneous count (``/proc/loadavg``, the number before the
slash, for all ``os.cpu_count()`` cores); this process's running threads (state R in ``/proc/self/task/*/stat``)
are subtracted because its own workers (OpenMP's and BLAS's, which spin for a while after their work) are not a
neighbour. A quiet machine keeps n, even an n above the core count that the user asked for.

One reading is a snapshot, so the estimate is the median of the readings of the last :data:`WINDOW` seconds (at
most three; one after a pause); a reading (about 50 µs) is taken at most every :data:`INTERVAL` seconds, by
whichever thread asks first. Where these files do not exist (not Linux), ``threads(n)`` is n. Nothing about the
process changes: the estimate only chooses how many threads cnnkit's own kernels start.
"""
from __future__ import annotations

import os
import threading
import time

__all__ = ["threads", "share", "others", "readings", "INTERVAL", "WINDOW"]

INTERVAL = 0.01
"""Seconds between two readings of the machine's load."""
WINDOW = 0.05
"""Readings older than this many seconds no longer count."""

_lock = threading.Lock()
_readings: list = []        # [(time, others), ...], newest last, at most three
_estimate = 0               # median of _readings: other processes' running tasks
_next = 0.0                 # time.monotonic() at which the next reading is due
_cores = os.cpu_count() or 1
_loadavg: int | None = None  # a file descriptor on /proc/loadavg, kept open; -1 when it cannot be read


def _open_loadavg() -> int:
    try:
        return os.open("/proc/loadavg", os.O_RDONLY)
    except OSError:
        return -1


def _runnable() -> int | None:
    """The machine's runnable tasks now (``/proc/loadavg``'s fourth field, before the slash), or None."""
    global _loadavg
    if _loadavg is None:
        _loadavg = _open_loadavg()
    if _loadavg < 0:
        return None
    try:
        return int(os.pread(_loadavg, 128, 0).split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None


def _running_here() -> int:
    """This process's threads that are running or runnable now (state R), the calling one included."""
    count = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            fd = os.open(f"/proc/self/task/{tid}/stat", os.O_RDONLY)
        except OSError:           # the thread ended
            continue
        try:
            stat = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        end = stat.rfind(b")")  # the command name, in parentheses, may contain anything
        count += stat[end + 2:end + 3] == b"R"
    return count


def others() -> int | None:
    """One reading: the runnable tasks on the machine that are not this process's threads (None where it cannot
    be read)."""
    total = _runnable()
    if total is None:
        return None
    try:
        here = _running_here()
    except OSError:
        return None
    return max(0, total - here)


def _read(now: float) -> None:
    """Take a reading and update the estimate (the caller holds the lock)."""
    global _readings, _estimate, _next
    _next = now + INTERVAL
    value = others()
    if value is None:
        _readings, _estimate, _next = [], 0, float("inf")   # never read again
        return
    _readings = [r for r in _readings[-2:] if now - r[0] <= WINDOW] + [(now, value)]
    values = sorted(v for _, v in _readings)
    _estimate = values[(len(values) - 1) // 2]              # of two readings, the lower


def threads(n: int) -> int:
    """The threads a parallel kernel should use of the ``n`` it may (see the module docstring)."""
    now = time.monotonic()
    if now >= _next and _lock.acquire(blocking=False):
        try:
            if now >= _next:
                _read(now)
        finally:
            _lock.release()
    return share(n, _estimate, _cores)


def share(n: int, busy: int, cores: int) -> int:
    """Of ``n`` threads, how many to start on ``cores`` cores of which other processes keep ``busy`` busy:
    n when none is, else ``max(1, min(n, cores - busy))``."""
    return n if busy <= 0 else max(1, min(n, cores - busy))


def readings() -> list:
    """The readings the estimate is made of now: [(time.monotonic(), other runnable tasks), ...], oldest first."""
    return list(_readings)


def _after_fork_in_child() -> None:
    global _lock, _readings, _estimate, _next
    _lock = threading.Lock()      # another thread may have held it at the fork
    _readings, _estimate, _next = [], 0, 0.0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
