"""Data: datasets, the DataLoader, transforms (preprocessing and augmentation) and image files as inputs."""
from . import datasets, images, transforms
from .dataloader import DataLoader, default_collate
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, TransformedDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["ArrayDataset", "BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "TransformedDataset", "datasets", "default_collate",
           "images", "random_split", "transforms"]
