"""Data: datasets, the DataLoader, transforms (preprocessing and augmentation) and image files as inputs."""
from . import datasets, images, transforms
from .dataloader import DataLoader, default_collate
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, TransformedDataset, random_split

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "datasets", "default_collate",
           "images", "random_split", "transforms", "TransformedDataset"]
