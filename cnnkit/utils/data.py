"""``cnnkit.utils.data``: the names of ``torch.utils.data``, re-exported from ``cnnkit.data`` (one implementation)."""
from ..data.dataloader import DataLoader, default_collate
from ..data.dataset import ArrayDataset, Dataset, Subset, TensorDataset, random_split
from ..data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["ArrayDataset", "BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "default_collate", "random_split"]
