"""``ck.data.datasets.ImageFolder``: torchvision's layout and attributes, lazy decoding with a bounded cache,
transforms, a fixed size, grayscale detection and splits."""
import shutil

import numpy as np
import pytest
from PIL import Image

from cnnkit.data import DataLoader
from cnnkit.data import transforms as T
from cnnkit.data.datasets import ImageFolder, find_classes, find_splits, image_channels
from cnnkit.data.images import resize, resize_center_crop
from tests.image_folder import make_image_folder


def test_layout_and_attributes_as_torchvision(tmp_path):
    root = make_image_folder(tmp_path, classes=("zebra", "ant", "Bee"), per_class=3)
    (root / "ant" / "notes.txt").write_text("not an image")
    (root / "ant" / "UPPER.PNG").write_bytes((root / "ant" / "000.png").read_bytes())
    (root / ".hidden").mkdir()
    data = ImageFolder(root)
    assert data.classes == ["Bee", "ant", "zebra"]  # sorted as strings, like torchvision
    assert data.class_to_idx == {"Bee": 0, "ant": 1, "zebra": 2}
    assert find_classes(root) == (data.classes, data.class_to_idx)
    paths = [p for p, _ in data.samples]
    assert paths == sorted(paths) and len(data) == 10 and data.imgs is data.samples
    assert [t for _, t in data.samples] == data.targets == [0] * 3 + [1] * 4 + [2] * 3
    assert paths[3].endswith("ant/000.png") and paths[6].endswith("ant/UPPER.PNG")  # extensions ignore case
    x, y = data[4]
    assert y == 1 and x.dtype == np.uint8 and x.shape == (3, 12, 12)
    expected = np.asarray(Image.open(paths[4]).convert("RGB")).transpose(2, 0, 1)
    assert np.array_equal(x, expected)


def test_lazy_bounded_cache_and_transforms(tmp_path):
    root = make_image_folder(tmp_path, per_class=4, size=10)
    reads = []

    def loader(path):
        reads.append(path)
        return np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1).copy()

    one = 3 * 10 * 10
    data = ImageFolder(root, loader=loader, cache_bytes=2 * one, transform=T.ConvertImageDtype(),
                       target_transform=lambda t: t + 10)
    assert reads == []  # nothing decoded when the folder is listed
    x, y = data[0]
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1 and y == 10
    data[0], data[1]
    assert len(reads) == 2  # the second read of 0 came from the cache
    data[2]  # the cache holds two images: 0, the least recently used, goes
    data[1]
    assert len(reads) == 3
    data[0]
    assert len(reads) == 4
    no_cache = ImageFolder(root, loader=loader, cache_bytes=0)
    no_cache[0], no_cache[0]
    assert len(reads) == 6
    raw = ImageFolder(root, cache_bytes=one)  # the default loader, one image cached
    first = raw[0][0]
    assert raw[0][0] is first  # from the cache: shared, so it is read-only
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0, 0] = 1


def test_size_grayscale_and_batches(tmp_path):
    root = make_image_folder(tmp_path / "g", per_class=2, size=(16, 10), mode="L")
    assert image_channels(p for p, _ in ImageFolder(root).samples) == 1
    rgb = make_image_folder(tmp_path / "mixed", per_class=1, size=12, mode="L")
    Image.new("RGB", (12, 12), (200, 10, 10)).save(rgb / "ant" / "red.png")
    assert image_channels(p for p, _ in ImageFolder(rgb).samples) == 3
    data = ImageFolder(root, channels=1, size=8)
    x, _ = data[0]
    pixels = np.asarray(Image.open(data.samples[0][0]))
    assert x.shape == (1, 8, 8) and np.array_equal(x[0], resize_center_crop(pixels, 8))
    batch_x, batch_y = next(iter(DataLoader(data, batch_size=4)))
    assert batch_x.shape == (4, 1, 8, 8) and batch_y._data.tolist() == [0, 0, 1, 1]


def test_resize_center_crop_matches_resize_then_crop():
    pixels = np.random.default_rng(0).integers(0, 255, (10, 16), dtype=np.uint8)
    out = resize_center_crop(pixels, 5)
    assert out.shape == (5, 5)
    wide = resize(pixels, 5, 8)  # shorter side 10 -> 5, longer ⌊5·16/10⌋ = 8
    assert np.array_equal(out, wide[:, 2:7])  # left = round((8 - 5) / 2) = 2 (round half to even)


def test_splits_and_given_classes(tmp_path):
    root = make_image_folder(tmp_path, per_class=0, splits={"train": 2, "val": 1, "test": 1})
    splits = find_splits(root)
    assert splits == {"train": root / "train", "val": root / "val", "test": root / "test"}
    assert find_splits(root / "train") == {"train": root / "train"}
    train = ImageFolder(splits["train"])
    (root / "test" / "cat").rename(root / "test" / "zzz")
    with pytest.raises(ValueError, match=r"class folders \['zzz'\] that are not among the classes"):
        ImageFolder(splits["test"], classes=train.classes)
    (root / "test" / "zzz").rename(root / "test" / "cat")
    shutil.rmtree(root / "test" / "bee")
    test = ImageFolder(splits["test"], classes=train.classes)  # a class without test images is allowed
    assert test.class_to_idx == train.class_to_idx and test.targets == [0, 2]


def test_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"ImageFolder: no folder {tmp_path / 'nope'}"):
        ImageFolder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="has no class folders"):
        ImageFolder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match=f"no image files in {tmp_path / 'a'}"):
        ImageFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"ImageFolder: no image files in {tmp_path}$"):
        ImageFolder(tmp_path, allow_empty=True)
    with pytest.raises(ValueError, match="channels must be 1 .* or 3"):
        ImageFolder(tmp_path, channels=2)
    make_image_folder(tmp_path / "ok", per_class=1)
    data = ImageFolder(tmp_path / "ok")
    with pytest.raises(IndexError, match="index 3 is out of range for 3 samples"):
        data[3]
    (tmp_path / "ok" / "ant" / "000.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="000.png is not an image file that Pillow can read"):
        data[0]
