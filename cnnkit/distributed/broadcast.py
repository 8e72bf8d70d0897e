"""Starting every rank from the same model: a check that all ranks hold the same state (names, shapes, dtypes)
and a broadcast of rank 0's values.

Data-parallel training keeps one model replicated on R processes; it stays replicated only if all replicas start
equal (the averaged gradients and the optimizer then move them identically). ``check_same_model`` compares each
rank's list of (name, shape, dtype) with rank 0's and raises ``ValueError`` on every rank if any rank differs,
naming the differing ranks and the first differing entry of the lowest of them; ``broadcast_state``
then overwrites every parameter and buffer with rank 0's values.
"""
from __future__ import annotations

import json

import numpy as np

from ..ops.inplace import changed

__all__ = ["broadcast_state", "check_same_model", "model_signature"]


def model_signature(module) -> list:
    """[name, shape, dtype] of every entry of ``module.state_dict()`` (parameters and buffers), in order."""
    return [[name, list(t._data.shape), str(t._data.dtype)] for name, t in module.state_dict(keep_vars=True).items()]


def _first_difference(mine: list, theirs: list, rank: int) -> str:
    ours = {name: (shape, dtype) for name, shape, dtype in mine}
    root = {name: (shape, dtype) for name, shape, dtype in theirs}
    for name, shape, dtype in theirs:
        if name not in ours:
            return f"'{name}' of rank 0 is missing on rank {rank}"
        if ours[name] != (shape, dtype):
            return (f"'{name}' is {tuple(ours[name][0])} {ours[name][1]} on rank {rank} but {tuple(shape)} {dtype} "
                    f"on rank 0")
    for name, _, _ in mine:
        if name not in root:
            return f"'{name}' of rank {rank} is missing on rank 0"
    return f"the order of the entries differs between rank {rank} and rank 0"


def check_same_model(module, group) -> None:
    """Raise ``ValueError`` (on every rank, with one message) unless every rank's ``module`` has rank 0's state
    names, shapes and dtypes; the message names the differing ranks and the first difference of the lowest one."""
    text = json.dumps(model_signature(module))
    root_text = group.broadcast_bytes(text.encode("utf-8")).decode("utf-8")
    differs = np.zeros(group.world_size, dtype=np.int32)
    differs[group.rank] = root_text != text
    group.all_reduce(differs)
    if not differs.any():
        return
    ranks = np.flatnonzero(differs)
    first = int(ranks[0])
    first_text = group.broadcast_bytes(text.encode("utf-8"), root=first).decode("utf-8")
    detail = _first_difference(json.loads(first_text), json.loads(root_text), first)
    differing = ", ".join(map(str, ranks))
    raise ValueError(f"check_same_model: the model differs between ranks (rank(s) {differing} differ from rank 0): "
                     f"{detail}")


def broadcast_state(module, group) -> None:
    """Overwrite every parameter and buffer of ``module`` with rank 0's values (after ``check_same_model``)."""
    for t in module.state_dict(keep_vars=True).values():
        if t._data.flags.c_contiguous:
            group.broadcast(t._data)
        else:
            t._data[...] = group.broadcast(np.ascontiguousarray(t._data))
        changed(t)
