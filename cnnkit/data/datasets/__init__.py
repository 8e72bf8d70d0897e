"""Datasets: ``digits`` (built in, no download), ``mnist``, ``fashion_mnist`` (IDX files), ``cifar10`` (binary),
``ImageFolder`` (a folder of one's own images, torchvision's layout)."""
from .cifar import CIFAR10_CLASSES, cifar10, read_cifar_batch
from .digits import digits
from .download import DownloadError, download, md5sum
from .folder import IMG_EXTENSIONS, ImageFolder, find_classes, find_splits, image_channels, make_dataset
from .idx import FASHION_MNIST_CLASSES, DatasetError, fashion_mnist, load_idx_pair, mnist, read_idx

__all__ = ["CIFAR10_CLASSES", "DatasetError", "DownloadError", "FASHION_MNIST_CLASSES", "IMG_EXTENSIONS", "ImageFolder",
           "cifar10", "digits", "download", "fashion_mnist", "find_classes", "find_splits", "image_channels",
           "load_idx_pair", "make_dataset", "md5sum", "mnist", "read_cifar_batch", "read_idx"]
