"""Data: datasets, the DataLoader and transforms (preprocessing and augmentation)."""
from . import datasets, transforms
from .dataloader import DataLoader, default_collate
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, random_split

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "datasets", "default_collate",
           "random_split", "transforms"]
