"""Data-parallel training over MPI: ``mpiexec -n N python train.py`` runs N processes (ranks), each on its own
shard of every batch, averaging gradients so that all ranks keep one identical model.

- ``group``: ``init()`` (rank and world size from MPI; a world of 1 without mpi4py), ``ProcessGroup``
  (all-reduce, broadcast, abort), ``get_rank``, ``get_world_size``
- ``sampler``: ``DistributedSampler`` (each rank's shard of each epoch's shuffled order)
- ``buckets``: ``GradientBuckets`` (gradient averaging by all-reduce over contiguous buckets)
- ``broadcast``: ``check_same_model``, ``broadcast_state`` (every rank starts from rank 0's model)
- ``parallel``: ``DistributedDataParallel`` (the one-line wrapper)
- ``sync_batchnorm``: ``SyncBatchNorm`` (batch statistics of the global batch)

See docs/distributed.md.
"""
from .broadcast import broadcast_state, check_same_model, model_signature
from .buckets import GradientBuckets
from .group import ProcessGroup, get_rank, get_world_size, init, is_initialized
from .parallel import DistributedDataParallel
from .sampler import DistributedSampler
from .sync_batchnorm import SyncBatchNorm

__all__ = ["DistributedDataParallel", "DistributedSampler", "GradientBuckets", "ProcessGroup", "SyncBatchNorm",
           "broadcast_state", "check_same_model", "get_rank", "get_world_size", "init", "is_initialized",
           "model_signature"]
