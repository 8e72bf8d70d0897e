"""Sharing the cores: how many threads a parallel kernel should use while other processes keep cores busy.

A team of n threads that meets at barriers (an OpenMP region of oneDNN, cnnkit's batch split) runs at the pace of
its slowest member. When other processes keep cores busy, n threads on fewer free cores take turns with them,
and each barrier waits a scheduler time slice for the member that was preempted: on 2 cores with one kept busy
by another process, a 1×1 convolution that takes 8.6 ms on two threads took up to 112 ms on two threads and at
most 18.7 ms on one (docs/performance.md, "Sharing the cores"). So a kernel uses one thread fewer per busy core:

    used       = cores' worth of CPU time that other processes used over the last SPAN seconds or more
               = (CPU time of the whole machine − CPU time of this process) / wall time
    busy       = min(used, rounded (:func:`settled`), other tasks runnable at the reading)
    threads(n) = n                                  if busy = 0
               = max(1, min(n, cores − busy))       otherwise

The machine's CPU time is the kernel's (``/proc/stat``'s first line: user, nice, system, irq and softirq time of
all ``os.cpu_count()`` cores, in clock ticks); this process's is ``time.process_time()``: its own threads
(OpenMP's and BLAS's workers, which spin for a while after their work) are not a neighbour. After a pause the
span reaches back to the last reading before it. The rounded estimate rises at 0.6 of a core and falls only when
the measurement is well below it. The runnable tasks are the kernel's instantaneous count (``/proc/loadavg``)
minus this process's threads in state R (``/proc/self/task/*/stat``). Each half alone was wrong on a quiet
machine: the count, in a LeNet-5 training loop, counted one task too many in every third reading (a thread that
has just gone to sleep may still be counted); the CPU time kept counting, for 0.2 s, another process that had just
gone idle (two processes taking turns). A quiet machine keeps n, even an n above the core count that the user
asked for.

A reading (about 10 µs; 45 µs while a core is counted busy) is taken at most every :data:`INTERVAL` seconds, by
whichever thread asks first. Where ``/proc/stat`` does not exist (not Linux), ``threads(n)`` is n. Nothing about
the process changes: the estimate only chooses how many threads cnnkit's own kernels start.
"""
from __future__ import annotations

import math
import os
import threading
import time

__all__ = ["threads", "configured", "share", "busy_cores", "runnable_others", "settled", "readings", "used", "estimate",
           "INTERVAL", "SPAN", "RISE", "FALL"]

INTERVAL = 0.02
"""Seconds between two readings."""
SPAN = 0.2
"""The estimate covers at least the last SPAN seconds: the readings of that time and the last one before it (the
machine's CPU time is counted in clock ticks of 10 ms: over 20 ms, a quiet machine measured 0.5–0.7 of a core
that was not this process's)."""
RISE = 0.6
"""The estimate of busy cores rises to k once a measurement reaches k − 1 + RISE (see :func:`settled`). Measured on
2 cores: on a quiet machine, 255 measurements during LeNet-5 training stayed below 0.08; with a process spinning
on one core, 0.55–0.99 while two threads of ours competed with it, 0.91–1.05 once we left it its core."""
FALL = 0.7
"""The estimate of busy cores falls only when a measurement is this much below it (see :func:`settled`)."""

_lock = threading.Lock()
_readings: list = []        # [(time.monotonic(), machine busy ticks, process CPU seconds), ...], oldest first
_estimate = 0               # cores other processes kept busy over the readings
_busy = 0                   # ... and still keep busy at the last reading: what threads() uses
_next = 0.0                 # time.monotonic() at which the next reading is due
_cores = os.cpu_count() or 1
_tick = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
_files: dict = {}           # /proc file name -> a descriptor kept open (-1: it cannot be read)


def _proc(name: str) -> bytes | None:
    """The start of ``/proc/<name>`` (read through a descriptor kept open), or None where it cannot be read."""
    fd = _files.get(name)
    if fd is None:
        try:
            fd = os.open(f"/proc/{name}", os.O_RDONLY)
        except OSError:
            fd = -1
        _files[name] = fd
    if fd < 0:
        return None
    try:
        return os.pread(fd, 256, 0)
    except OSError:
        return None


def _machine_ticks() -> int | None:
    """Clock ticks all cores have spent running anything (user, nice, system, irq, softirq), or None."""
    text = _proc("stat")
    try:
        fields = text.split(b"\n", 1)[0].split()
        user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[1:8])
    except (AttributeError, ValueError):
        return None
    return user + nice + system + irq + softirq


def _runnable() -> int | None:
    """The machine's runnable tasks now (``/proc/loadavg``'s fourth field, before the slash), or None."""
    text = _proc("loadavg")
    try:
        return int(text.split()[3].split(b"/")[0])
    except (AttributeError, ValueError, IndexError):
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


def runnable_others() -> int | None:
    """Runnable tasks on the machine now that are not this process's threads (None where it cannot be read). It
    may count a task too many (one that has just gone to sleep can still be counted), never one too few."""
    total = _runnable()
    if total is None:
        return None
    try:
        return max(0, total - _running_here())
    except OSError:
        return None


def busy_cores(first: tuple, last: tuple) -> float:
    """Cores' worth of CPU time that other processes used between two readings (time, machine ticks, process
    CPU seconds)."""
    wall = last[0] - first[0]
    if wall <= 0:
        return 0.0
    return ((last[1] - first[1]) * _tick - (last[2] - first[2])) / wall


def _read(now: float) -> None:
    """Take a reading and update the estimate (the caller holds the lock)."""
    global _readings, _estimate, _busy, _next
    _next = now + INTERVAL
    ticks = _machine_ticks()
    if ticks is None:
        _readings, _estimate, _busy, _next = [], 0, 0, float("inf")   # never read again
        return
    reading = (now, ticks, time.process_time())
    older = [r for r in _readings if now - r[0] > SPAN]
    _readings = older[-1:] + [r for r in _readings if now - r[0] <= SPAN] + [reading]
    if now - _readings[0][0] >= SPAN:       # a shorter span measures the clock ticks' granularity
        _estimate = settled(_estimate, busy_cores(_readings[0], reading))
    if _estimate == 0:
        _busy = 0
    else:
        others = runnable_others()
        _busy = _estimate if others is None else min(_estimate, others)


def settled(before: int, measured: float) -> int:
    """The new estimate of busy cores from the last one and a measurement: up to k once the measurement reaches
    k − 1 + :data:`RISE`, down only once it is below ``before`` by more than :data:`FALL` (a neighbour gets more of
    a core once we leave it one, and less while we compete for it: the estimate must not swing between the two)."""
    up = math.floor(measured + 1 - RISE)
    if up > before:
        return up
    if measured < before - FALL:
        return max(0, math.floor(measured + 1 - FALL))
    return before


def threads(n: int) -> int:
    """The threads a parallel kernel should use of the ``n`` it may (see the module docstring)."""
    now = time.monotonic()
    if now >= _next and _lock.acquire(blocking=False):
        try:
            if now >= _next:
                _read(now)
        finally:
            _lock.release()
    return share(n, _busy, _cores)


def configured(cfg) -> int:
    """The threads a parallel kernel starts under config ``cfg``: ``cfg.threads``, one fewer per busy core when
    ``cfg.adaptive_threads`` (:func:`threads`)."""
    return threads(cfg.threads) if cfg.adaptive_threads else cfg.threads


def share(n: int, busy: int, cores: int) -> int:
    """Of ``n`` threads, how many to start on ``cores`` cores of which other processes keep ``busy`` busy:
    n when none is, else ``max(1, min(n, cores - busy))``."""
    return n if busy <= 0 else max(1, min(n, cores - busy))


def readings() -> list:
    """The readings the estimate is made of now: [(time.monotonic(), machine busy ticks, process CPU seconds),
    ...], oldest first."""
    return list(_readings)


def used() -> int:
    """The cores' worth of CPU time other processes used over :func:`readings`, rounded (:func:`settled`)."""
    return _estimate


def estimate() -> int:
    """The cores other processes keep busy by the last reading: kept busy over :func:`readings` (0 before they
    span :data:`SPAN`) and still runnable then (what :func:`threads` uses)."""
    return _busy


def _after_fork_in_child() -> None:
    global _lock, _readings, _estimate, _busy, _next
    _lock = threading.Lock()      # another thread may have held it at the fork
    _readings, _estimate, _busy, _next = [], 0, 0, 0.0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
