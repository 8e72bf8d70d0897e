"""The process group: this process's rank among the ``world_size`` processes that ``mpiexec`` started, and the
collective operations the rest of ``cnnkit.distributed`` is built on (MPI through ``mpi4py``).

    world = ck.distributed.init()     # rank and world size from MPI; a world of 1 without mpi4py or mpiexec
    world.all_reduce(a)               # a ← Σ_ranks a, in place (every rank gets the sum)
    world.broadcast(a)                # a ← rank 0's a, in place

    pending = world.all_reduce_start(a)   # the same, non-blocking: pending.wait() when the result is needed

Only NumPy buffers travel (MPI's upper-case calls); nothing is pickled. ``stats`` counts the calls, the bytes and
the seconds spent blocked in all-reduce (for a non-blocking one, the time in ``wait``) (``bench/distributed.py``).

Failure: ``init()`` of a world of more than one process installs an exception hook that prints the uncaught
exception with the rank that raised it and calls ``MPI_Abort``, so a rank that fails ends the whole job with a
non-zero exit instead of leaving the others waiting in a collective forever; ``abort(message)`` does the same for
an error a program has caught (the CLI's one-line errors).
"""
from __future__ import annotations

import sys
import time
import traceback

import numpy as np

__all__ = ["PendingAllReduce", "ProcessGroup", "get_rank", "get_world_size", "init", "is_initialized"]

_OPS = ("sum", "max", "min")


class PendingAllReduce:
    """A non-blocking all-reduce in flight: ``wait()`` blocks until the array holds the result and returns it."""

    def __init__(self, group, request, array: np.ndarray):
        self.group, self.request, self.array = group, request, array

    def wait(self) -> np.ndarray:
        if self.request is not None:
            start = time.perf_counter()
            self.request.Wait()
            self.group.stats["all_reduce_seconds"] += time.perf_counter() - start
            self.request = None
        return self.array


class ProcessGroup:
    """The processes of one job. ``comm`` is an ``mpi4py`` communicator, or None for a world of one process (then
    every collective returns its input: the sum over one rank)."""

    def __init__(self, comm=None):
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.world_size = 1 if comm is None else comm.Get_size()
        self.stats = {"all_reduce_seconds": 0.0, "all_reduce_calls": 0, "all_reduce_bytes": 0}

    def __repr__(self) -> str:
        return f"ProcessGroup(rank={self.rank}, world_size={self.world_size})"

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes checkpoints, logs and the progress display."""
        return self.rank == 0

    def all_reduce(self, array: np.ndarray, op: str = "sum") -> np.ndarray:
        """Reduce ``array`` (C-contiguous) element-wise over the ranks with ``op`` (sum, max, min), in place; returns
        it. Every rank receives the same result."""
        if op not in _OPS:
            raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            raise TypeError("all_reduce: expected a C-contiguous NumPy array")
        if self.comm is None:
            return array
        from mpi4py import MPI

        start = time.perf_counter()
        self.comm.Allreduce(MPI.IN_PLACE, array, op={"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op])
        self.stats["all_reduce_seconds"] += time.perf_counter() - start
        self.stats["all_reduce_calls"] += 1
        self.stats["all_reduce_bytes"] += array.nbytes
        return array

    def all_reduce_start(self, array: np.ndarray) -> PendingAllReduce:
        """Start summing ``array`` (C-contiguous) over the ranks in place, without waiting (MPI_Iallreduce); the
        result is there after ``.wait()``. Every rank must start its all-reduces in the same order."""
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            raise TypeError("all_reduce_start: expected a C-contiguous NumPy array")
        if self.comm is None:
            return PendingAllReduce(self, None, array)
        from mpi4py import MPI

        self.stats["all_reduce_calls"] += 1
        self.stats["all_reduce_bytes"] += array.nbytes
        return PendingAllReduce(self, self.comm.Iallreduce(MPI.IN_PLACE, array, op=MPI.SUM), array)

    def progress(self, pending: list) -> None:
        """Let MPI advance the ``pending`` all-reduces (MPICH moves a non-blocking collective on only inside MPI
        calls of the process; calling this now and then during computation lets it overlap)."""
        requests = [p.request for p in pending if p.request is not None]
        if requests:
            from mpi4py import MPI

            MPI.Request.Testall(requests)

    def broadcast(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``array`` (C-contiguous, of one shape and dtype on every rank) with rank ``root``'s; returns it."""
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            raise TypeError("broadcast: expected a C-contiguous NumPy array")
        if self.comm is not None:
            self.comm.Bcast(array, root=root)
        return array

    def broadcast_bytes(self, data: bytes, root: int = 0) -> bytes:
        """Rank ``root``'s ``data`` on every rank (its length travels first)."""
        size = self.broadcast(np.array([len(data)], dtype=np.int64), root)
        buf = np.frombuffer(data, dtype=np.uint8).copy() if self.rank == root else np.empty(int(size[0]), np.uint8)
        return self.broadcast(buf, root).tobytes()

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()

    def abort(self, message: str, code: int = 1):
        """Print ``message`` (prefixed with this rank) to stderr and end every process of the job with ``code``
        (``MPI_Abort``); in a world of one process, exit with ``code``. The launcher forwards a rank's stderr
        asynchronously and ``MPI_Abort`` tears it down, so the abort waits ABORT_GRACE seconds for the message to
        reach the user (on a loaded machine it was otherwise lost)."""
        prefix = f"[rank {self.rank}] " if self.world_size > 1 else ""
        print(prefix + message.rstrip("\n").replace("\n", "\n" + prefix), file=sys.stderr, flush=True)
        if self.comm is not None:
            time.sleep(ABORT_GRACE)
            self.comm.Abort(code)
        raise SystemExit(code)


_world: ProcessGroup | None = None
ABORT_GRACE = 1.0  # seconds between printing an abort's message and MPI_Abort


def _abort_on_uncaught(kind, value, tb) -> None:
    text = "".join(traceback.format_exception(kind, value, tb))
    _world.abort(f"uncaught exception, aborting the job:\n{text}", 1)


def init(*, abort_on_error: bool = True) -> ProcessGroup:
    """The process group of this job (created on the first call, the same object after).

    Rank and world size come from MPI (``mpiexec -n N python script.py``); without mpi4py installed the world is
    this one process. With ``abort_on_error`` and more than one process, an uncaught exception on any rank prints
    that rank's traceback and aborts the whole job (see the module docstring).
    """
    global _world
    if _world is not None:
        return _world
    try:
        from mpi4py import MPI
    except ImportError:
        _world = ProcessGroup(None)
        return _world
    comm = MPI.COMM_WORLD
    _world = ProcessGroup(comm if comm.Get_size() > 1 else None)
    if abort_on_error and _world.world_size > 1:
        sys.excepthook = _abort_on_uncaught
    return _world


def is_initialized() -> bool:
    return _world is not None


def get_rank() -> int:
    """This process's rank (0 before ``init`` or without MPI)."""
    return _world.rank if _world is not None else 0


def get_world_size() -> int:
    """The number of processes of the job (1 before ``init`` or without MPI)."""
    return _world.world_size if _world is not None else 1
