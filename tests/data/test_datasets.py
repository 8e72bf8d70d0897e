"""Datasets: built-in digits, MNIST-family IDX files, CIFAR-10 binary batches (files written by the tests)."""
import gzip
import hashlib
import io
import re
import struct
import tarfile

import numpy as np
import pytest
import torch

from cnnkit.data.datasets import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    DatasetError,
    cifar10,
    digits,
    fashion_mnist,
    load_idx_pair,
    mnist,
    read_cifar_batch,
    read_idx,
)
from cnnkit.data.datasets.cifar import CIFAR10_ARCHIVE

# ---------------------------------------------------------------- digits (scikit-learn's bundled images)

@pytest.fixture(scope="module")
def sk_digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return d.images, d.target


@pytest.fixture(scope="module")
def digit_sets():
    return digits(train=True), digits(train=False)


def test_digits_split_sizes_shapes_and_ranges(digit_sets):
    train, test = digit_sets
    assert len(train) == 1437 and len(test) == 360
    for ds in (train, test):
        x, y = ds.arrays
        assert x.shape == (len(ds), 1, 28, 28) and x.dtype == np.float32
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
        assert x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.9
        # MNIST framing: the 20x20 digit is centred with a 4-pixel empty border
        assert np.all(x[:, :, :4] == 0) and np.all(x[:, :, -4:] == 0)
        assert np.all(x[:, :, :, :4] == 0) and np.all(x[:, :, :, -4:] == 0)


def test_digits_split_is_the_documented_one_and_deterministic(sk_digits, digit_sets):
    images, target = sk_digits
    order = np.random.default_rng(0).permutation(1797)  # the split the docstring documents
    train8, test8 = digits(train=True, size=8), digits(train=False, size=8)
    np.testing.assert_array_equal(train8.arrays[1], target[order[:1437]])
    np.testing.assert_array_equal(test8.arrays[1], target[order[1437:]])
    np.testing.assert_array_equal(train8.arrays[0][:, 0], (images[order[:1437]] / 16).astype(np.float32))
    np.testing.assert_array_equal(test8.arrays[0][:, 0], (images[order[1437:]] / 16).astype(np.float32))
    assert train8.arrays[0].shape == (1437, 1, 8, 8)
    again = digits(train=True)
    np.testing.assert_array_equal(again.arrays[0], digit_sets[0].arrays[0])
    np.testing.assert_array_equal(again.arrays[1], digit_sets[0].arrays[1])


def test_digits_28_is_the_bilinear_resize_to_20_padded_by_4(sk_digits, digit_sets):
    images, _ = sk_digits
    order = np.random.default_rng(0).permutation(1797)
    raw = torch.from_numpy((images[order[1437:]] / 16).astype(np.float32)[:, None])
    expected = torch.nn.functional.pad(
        torch.nn.functional.interpolate(raw, size=(20, 20), mode="bilinear", align_corners=False), (4, 4, 4, 4))
    np.testing.assert_allclose(digit_sets[1].arrays[0], expected.numpy(), rtol=1e-6, atol=1e-6)


def test_digits_other_sizes_transforms_and_errors():
    ds = digits(train=False, size=32, transform=lambda v: v * 2, target_transform=lambda v: v + 1)
    x, y = ds[np.arange(3)]
    assert x.shape == (3, 1, 32, 32) and x.max() > 1.0 and y.min() >= 1
    for bad in (7, 0, 28.0, "28", True):
        with pytest.raises(ValueError, match="digits: size must be an int of at least 8"):
            digits(size=bad)


# ---------------------------------------------------------------- IDX (MNIST, Fashion-MNIST)

def idx_bytes(arr, dtype_code=0x08, ndim=None, dims=None):
    ndim = arr.ndim if ndim is None else ndim
    dims = arr.shape if dims is None else dims
    return struct.pack(">HBB", 0, dtype_code, ndim) + struct.pack(f">{len(dims)}I", *dims) + \
        arr.astype(np.uint8).tobytes()


def sample_data(n=20, seed=0):
    r = np.random.default_rng(seed)
    return r.integers(0, 256, (n, 28, 28), dtype=np.uint8), r.integers(0, 10, n, dtype=np.uint8)


def write_split(root, prefix, images, labels, gz):
    root.mkdir(parents=True, exist_ok=True)
    for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
        data = idx_bytes(arr)
        name = f"{prefix}-{kind}-ubyte"
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)


@pytest.mark.parametrize("loader", [mnist, fashion_mnist])
@pytest.mark.parametrize("gz", [True, False])
def test_idx_datasets_load_written_files(tmp_path, loader, gz):
    train_x, train_y = sample_data(20, 1)
    test_x, test_y = sample_data(7, 2)
    write_split(tmp_path, "train", train_x, train_y, gz)
    write_split(tmp_path, "t10k", test_x, test_y, not gz)  # gzipped and plain files can be mixed
    for train, (ex, ey) in ((True, (train_x, train_y)), (False, (test_x, test_y))):
        ds = loader(tmp_path, train=train)
        x, y = ds.arrays
        assert len(ds) == len(ey) and x.shape == (len(ey), 1, 28, 28)
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], ex.astype(np.float32) / 255)
        np.testing.assert_array_equal(y, ey)
    ds = loader(tmp_path, train=False, transform=lambda v: v - 1, target_transform=lambda v: v * 10)
    xi, yi = ds[0]
    np.testing.assert_array_equal(xi[0], test_x[0] / np.float32(255) - 1)
    assert yi == test_y[0] * 10


def test_class_names():
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert len(CIFAR10_CLASSES) == 10 and CIFAR10_CLASSES[0] == "airplane"


def test_missing_idx_files(tmp_path):
    with pytest.raises(DatasetError, match=r"mnist: .*train-images-idx3-ubyte\.gz does not exist; pass download=True"):
        mnist(tmp_path)
    with pytest.raises(DatasetError, match=r"fashion_mnist: .*t10k-images-idx3-ubyte\.gz does not exist"):
        fashion_mnist(tmp_path, train=False)
    with pytest.raises(DatasetError, match="does not exist"):
        read_idx(tmp_path / "nope", 1)


GOOD_X, GOOD_Y = sample_data(5, 3)
CORRUPT = {
    "bad magic": (lambda: b"\x00\x01" + idx_bytes(GOOD_X)[2:], 3, r"bad IDX magic number 0x00010803"),
    "bad type code": (lambda: idx_bytes(GOOD_X, dtype_code=0x0D), 3, r"bad IDX magic number 0x00000d03"),
    "wrong ndim": (lambda: idx_bytes(GOOD_X), 1, r"IDX file has 3 dims, expected 1"),
    "truncated data": (lambda: idx_bytes(GOOD_X)[:-10], 3,
                       r"header promises 3920 values \(5, 28, 28\), the file holds 3910 \(truncated\)"),
    "trailing bytes": (lambda: idx_bytes(GOOD_X) + b"\x00\x00", 3, r"the file holds 3922 \(trailing bytes\)"),
    "short header": (lambda: idx_bytes(GOOD_X)[:9], 3, r"9 bytes is too short for an IDX header"),
    "empty": (lambda: b"", 1, r"0 bytes is too short"),
    "huge dims": (lambda: idx_bytes(GOOD_X[:0], dims=(2**32 - 1,) * 3), 3, r"header promises \d+ values"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("gz", [False, True])
def test_corrupt_idx_files_raise_naming_the_file(tmp_path, case, gz):
    make, ndim, message = CORRUPT[case]
    data = make()
    path = tmp_path / ("broken-idx-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ".*" + message):
        read_idx(path, ndim)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(GOOD_X))[:-20])
    with pytest.raises(DatasetError, match=re.escape(str(path)) + " is a corrupt or truncated gzip file"):
        read_idx(path, 3)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(GOOD_Y))
    with pytest.raises(DatasetError, match=re.escape(str(path))):
        mnist(tmp_path)


def test_labels_out_of_range_and_count_mismatch(tmp_path):
    xs, ys = tmp_path / "train-images-idx3-ubyte", tmp_path / "train-labels-idx1-ubyte"
    xs.write_bytes(idx_bytes(GOOD_X))
    ys.write_bytes(idx_bytes(np.array([1, 2, 10, 3, 4])))
    with pytest.raises(DatasetError, match=re.escape(str(ys)) + r": label 10 is outside \[0, 10\)"):
        mnist(tmp_path)
    ys.write_bytes(idx_bytes(GOOD_Y[:4]))
    with pytest.raises(DatasetError, match=re.escape(str(xs)) + " has 5 images but " + re.escape(str(ys))
                       + " has 4 labels"):
        load_idx_pair(xs, ys)


def test_idx_path_that_is_a_directory(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(DatasetError, match=re.escape(str(tmp_path / "dir")) + " cannot be read"):
        read_idx(tmp_path / "dir", 1)


# ---------------------------------------------------------------- CIFAR-10 binary batches

def cifar_records(n, seed):
    r = np.random.default_rng(seed)
    images = r.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)  # height, width, RGB
    labels = r.integers(0, 10, n, dtype=np.uint8)
    raw = b"".join(bytes([labels[i]]) + images[i, :, :, 0].tobytes() + images[i, :, :, 1].tobytes()
                   + images[i, :, :, 2].tobytes() for i in range(n))
    return raw, images, labels


def write_cifar(folder, counts=(2, 3, 1, 2, 2), test_count=3):
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = [], []
    for i, n in enumerate(counts, start=1):
        raw, x, y = cifar_records(n, i)
        (folder / f"data_batch_{i}.bin").write_bytes(raw)
        train_x.append(x)
        train_y.append(y)
    raw, test_x, test_y = cifar_records(test_count, 99)
    (folder / "test_batch.bin").write_bytes(raw)
    return (np.concatenate(train_x), np.concatenate(train_y)), (test_x, test_y)


def test_cifar10_decodes_records_exactly(tmp_path):
    (train_x, train_y), (test_x, test_y) = write_cifar(tmp_path / "cifar-10-batches-bin")
    ds = cifar10(tmp_path, train=True)
    x, y = ds.arrays
    assert x.shape == (10, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    # channel planes are R, G, B; rows in order
    np.testing.assert_array_equal(x, train_x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    np.testing.assert_array_equal(y, train_y)
    test = cifar10(tmp_path, train=False)
    np.testing.assert_array_equal(test.arrays[0], test_x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    np.testing.assert_array_equal(test.arrays[1], test_y)
    raw_x, raw_y = read_cifar_batch(tmp_path / "cifar-10-batches-bin" / "test_batch.bin")
    assert raw_x.dtype == np.uint8 and raw_x.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(raw_x[:, 0], test_x[..., 0])  # the red plane


def test_cifar10_errors(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    with pytest.raises(DatasetError, match="cifar10: CIFAR-10 files .* not found in .*pass download=True"):
        cifar10(tmp_path)
    write_cifar(folder)
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ": 3072 bytes is not a whole number of 3073-byte"):
        cifar10(tmp_path)
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ": 0 bytes"):
        read_cifar_batch(path)
    raw, _, _ = cifar_records(2, 5)
    path.write_bytes(raw[:3073] + bytes([12]) + raw[3074:])
    with pytest.raises(DatasetError, match=re.escape(str(path)) + r": label 12 is outside \[0, 10\)"):
        read_cifar_batch(path)


def _add(tar, name, data, **kw):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data))


def build_archive(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members:
            _add(tar, name, data)
        link = tarfile.TarInfo("cifar-10-batches-bin/link.bin")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar10_archive_extraction_is_safe(tmp_path):
    src = tmp_path / "src"
    (train_x, _), (test_x, test_y) = write_cifar(src)
    root = tmp_path / "root"
    root.mkdir()
    members = [(f"cifar-10-batches-bin/{p.name}", p.read_bytes()) for p in sorted(src.iterdir())]
    members += [("../evil.bin", b"x" * 3073), ("cifar-10-batches-bin/../../evil2.bin", b"x"),
                ("/tmp/cifar-10-batches-bin/evil3.bin", b"x"), ("cifar-10-batches-bin/readme.html", b"hi")]
    md5 = build_archive(root / CIFAR10_ARCHIVE, members)
    # the verified archive is already in root: no download happens (the mirror list is empty)
    test = cifar10(root, train=False, download=True, mirrors=[], md5s={CIFAR10_ARCHIVE: md5})
    np.testing.assert_array_equal(test.arrays[1], test_y)
    np.testing.assert_array_equal(test.arrays[0], test_x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    train = cifar10(root, train=True)
    np.testing.assert_array_equal(train.arrays[0], train_x.transpose(0, 3, 1, 2).astype(np.float32) / 255)
    assert not (tmp_path / "evil.bin").exists() and not (root / "evil.bin").exists()
    assert not (tmp_path / "evil2.bin").exists()
    assert sorted(p.name for p in (root / "cifar-10-batches-bin").iterdir()) == sorted(p.name for p in src.iterdir())
    assert sorted(p.name for p in root.iterdir()) == sorted([CIFAR10_ARCHIVE, "cifar-10-batches-bin"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root", "src"]


def test_cifar10_bad_archives(tmp_path):
    src = tmp_path / "src"
    write_cifar(src)
    root = tmp_path / "root"
    root.mkdir()
    archive = root / CIFAR10_ARCHIVE
    md5 = build_archive(archive, [("cifar-10-batches-bin/test_batch.bin", (src / "test_batch.bin").read_bytes())])
    with pytest.raises(DatasetError,
                       match=re.escape(str(archive)) + " does not contain cifar-10-batches-bin/data_batch_1"):
        cifar10(root, train=True, download=True, mirrors=[], md5s={CIFAR10_ARCHIVE: md5})
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2])  # truncated in the middle of a member
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match=re.escape(str(archive)) + " is a corrupt or truncated archive"):
        cifar10(root, train=True, download=True, mirrors=[], md5s={CIFAR10_ARCHIVE: md5})
    with pytest.raises(ValueError, match="cifar10: md5s has no checksum for cifar-10-binary.tar.gz"):
        cifar10(root, train=True, download=True, mirrors=[], md5s={})
