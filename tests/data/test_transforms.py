"""Transforms: preprocessing (fitted statistics, whitening) and augmentation, on images and batches."""
import itertools

import numpy as np
import pytest
import torch

import cnnkit as ck
from cnnkit.data import transforms as T

RNG = np.random.default_rng(1234)


def batch(n=6, c=3, h=7, w=9, dtype=np.float32):
    return RNG.random((n, c, h, w)).astype(dtype)


def fitted(t, data):
    return t.fit(data) if hasattr(t, "fit") else t


DETERMINISTIC = [
    lambda: T.Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.5]),
    lambda: T.ScaleToRange(),
    lambda: T.MeanSubtract("channel"),
    lambda: T.MeanSubtract("pixel"),
    lambda: T.Standardize("channel"),
    lambda: T.Standardize("pixel"),
    lambda: T.ZCAWhitening(eps=1e-2),
    lambda: T.Pad((1, 2, 3, 0)),
    lambda: T.CenterCrop((4, 5)),
    lambda: T.Resize((11, 6)),
    lambda: T.Compose([T.Pad(1), T.CenterCrop(5)]),
    lambda: T.Lambda(lambda v: v * 2),
]
RANDOM = [
    lambda: T.RandomCrop(5, padding=2),
    lambda: T.RandomHorizontalFlip(),
    lambda: T.PCAColorJitter(),
]


@pytest.mark.parametrize("make", DETERMINISTIC)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deterministic_transforms_on_images_and_batches(make, dtype):
    x = batch(dtype=dtype)
    t = fitted(make(), batch(40, dtype=dtype))
    out = t(x)
    assert out.dtype == dtype and out.ndim == 4 and out.shape[0] == len(x)
    for i in range(len(x)):  # a single (C, H, W) image gives the same as its row of the batch
        single = t(x[i])
        assert single.dtype == dtype and single.shape == out.shape[1:]
        np.testing.assert_allclose(single, out[i], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make", RANDOM)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_transforms_on_images_and_batches(make, dtype):
    x = batch(dtype=dtype)
    t = make()
    out, single = t(x), t(x[0])
    assert out.dtype == dtype and single.dtype == dtype
    assert out.ndim == 4 and out.shape[0] == len(x) and single.shape == out.shape[1:]


@pytest.mark.parametrize("make", RANDOM)
def test_per_sample_randomness_reproducible_under_manual_seed(make):
    same = np.repeat(batch(1), 32, axis=0)  # 32 copies of one image
    t = make()
    ck.manual_seed(11)
    a = t(same)
    ck.manual_seed(11)
    b = t(same)
    np.testing.assert_array_equal(a, b)
    distinct = {a[i].tobytes() for i in range(len(a))}
    assert len(distinct) > 1  # copies of one image got different crops / flips / colour shifts
    c = t(same)
    assert not np.array_equal(a, c)


def test_integer_images_keep_their_dtype_in_geometric_transforms():
    x = RNG.integers(0, 255, (2, 3, 6, 6), dtype=np.uint8)
    for t in (T.Pad(1), T.CenterCrop(3), T.RandomCrop(4, padding=1), T.RandomHorizontalFlip()):
        assert t(x).dtype == np.uint8
    assert T.Normalize(0.5, 0.5)(x).dtype == np.float32
    assert T.ScaleToRange(data_max=255)(x).dtype == np.float32
    assert T.Resize(3)(x).dtype == np.float32


# ---------------------------------------------------------------- Normalize / ScaleToRange

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_equals_torchvision_formula(dtype):
    x = batch(4, 3, 5, 5, dtype)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    t = torch.from_numpy(x)
    m = torch.as_tensor(mean, dtype=t.dtype).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=t.dtype).view(-1, 1, 1)
    expected = t.sub(m).div(s).numpy()  # torchvision.transforms.functional.normalize
    np.testing.assert_array_equal(T.Normalize(mean, std)(x), expected)
    np.testing.assert_array_equal(T.Normalize(mean, std)(x[1]), expected[1])


def test_normalize_single_statistic_broadcasts():
    x = batch(2, 3, 2, 2)
    np.testing.assert_allclose(T.Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-6)


def test_scale_to_range():
    x = np.array([0.0, 0.25, 0.5, 1.0], np.float32).reshape(1, 1, 2, 2)
    out = T.ScaleToRange()(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.ravel(), [-1.0, -0.5, 0.0, 1.0])
    u8 = np.array([0, 255], np.uint8).reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(T.ScaleToRange(0, 1, 0, 255)(u8).ravel(), [0.0, 1.0])


# ---------------------------------------------------------------- fitted statistics

def test_mean_subtract_per_channel_and_per_pixel():
    train = batch(50, 3, 4, 5, np.float64) * [[[2.0]], [[3.0]], [[5.0]]]
    other = batch(7, 3, 4, 5, np.float64)
    ch = T.MeanSubtract("channel").fit(train)
    np.testing.assert_allclose(ch(train).mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(ch(other), other - train.mean(axis=(0, 2, 3))[:, None, None], rtol=1e-12)
    px = T.MeanSubtract("pixel").fit(train)
    np.testing.assert_allclose(px(train).mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(px(other), other - train.mean(axis=0), rtol=1e-12)
    # per channel statistics apply to images of another size; per pixel ones do not
    assert ch(batch(2, 3, 8, 8)).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"MeanSubtract: fitted on images of shape \(3, 4, 5\), got \(3, 8, 8\)"):
        px(batch(2, 3, 8, 8))


def test_standardize_per_channel_and_per_pixel():
    train = batch(60, 3, 4, 4, np.float64) * 4 + 1
    other = batch(5, 3, 4, 4, np.float64)
    ch = T.Standardize("channel").fit(train)
    z = ch(train)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, rtol=1e-6)
    mu, sd = train.mean(axis=(0, 2, 3))[:, None, None], train.std(axis=(0, 2, 3))[:, None, None]
    np.testing.assert_allclose(ch(other), (other - mu) / sd, rtol=1e-6)
    px = T.Standardize("pixel").fit(train)
    z = px(train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(px(other), (other - train.mean(0)) / train.std(0), rtol=1e-6)
    # a constant dimension is not blown up thanks to eps
    const = np.ones((10, 1, 2, 2))
    assert np.all(np.isfinite(T.Standardize("pixel").fit(const)(const)))


def test_fitted_transforms_need_fit_and_check_inputs():
    for t in (T.MeanSubtract(), T.Standardize(), T.PCAWhitening(), T.ZCAWhitening()):
        with pytest.raises(RuntimeError, match=f"{type(t).__name__}: call fit"):
            t(batch())
    with pytest.raises(ValueError, match="MeanSubtract: per must be one of"):
        T.MeanSubtract("image")
    with pytest.raises(ValueError, match=r"Standardize.fit: expected training images \(N, C, H, W\), got shape"):
        T.Standardize().fit(np.zeros((4, 5)))
    ch = T.Standardize("channel").fit(batch(10, 3))
    with pytest.raises(ValueError, match=r"Standardize: fitted on images of shape \(3, 7, 9\), got \(1, 7, 9\)"):
        ch(batch(2, 1))
    with pytest.raises(ValueError, match=r"Standardize: expected an image \(C, H, W\) or a batch"):
        ch(np.zeros((3, 3)))


def _cov(z):
    zc = z - z.mean(axis=0)
    return zc.T @ zc / len(z)


def correlated(n=400, d=6, seed=0):
    r = np.random.default_rng(seed)
    mix = r.standard_normal((d, d)) * np.linspace(0.2, 3, d)
    return (r.standard_normal((n, d)) @ mix.T + 5.0).reshape(n, 1, 2, 3)


def test_pca_whitening_gives_identity_covariance():
    x = correlated()
    pca = T.PCAWhitening(eps=0).fit(x)
    z = pca(x)
    assert z.shape == (400, 6)
    np.testing.assert_allclose(_cov(z), np.eye(6), atol=1e-8)
    assert np.all(np.diff(pca.eigenvalues) <= 0)  # largest variance first
    np.testing.assert_allclose(pca.explained_variance_ratio().sum(), 1.0)


def test_pca_whitening_reduces_dimensions():
    x = correlated()
    pca = T.PCAWhitening(n_components=2, eps=0).fit(x)
    z = pca(x)
    assert z.shape == (400, 2)
    np.testing.assert_allclose(_cov(z), np.eye(2), atol=1e-8)
    full = T.PCAWhitening(eps=0).fit(x)(x)
    np.testing.assert_allclose(np.abs(z), np.abs(full[:, :2]), rtol=1e-8, atol=1e-10)  # the leading components
    assert pca(x[0]).shape == (2,)


def test_zca_whitening_keeps_shape_and_whitens():
    x = correlated()
    zca = T.ZCAWhitening(eps=0).fit(x)
    z = zca(x)
    assert z.shape == x.shape
    flat = z.reshape(len(z), -1)
    np.testing.assert_allclose(_cov(flat), np.eye(6), atol=1e-8)
    np.testing.assert_allclose(zca.matrix, zca.matrix.T, atol=1e-10)  # ZCA's matrix is symmetric
    # ZCA is the whitening closest to the input: it equals PCA whitening rotated back
    pca = T.PCAWhitening(eps=0).fit(x)
    np.testing.assert_allclose(flat, pca(x) @ pca.components.T, atol=1e-8)
    # a single sample of the fitted shape
    np.testing.assert_allclose(zca(x[3]), z[3], atol=1e-10)


@pytest.mark.parametrize("eps", [1e-3, 0.1, 10.0])
def test_whitening_eps_shrinks_the_variances(eps):
    x = correlated()
    for t in (T.PCAWhitening(eps=eps), T.ZCAWhitening(eps=eps)):
        t.fit(x)
        z = t(x).reshape(len(x), -1)
        lam = t.eigenvalues
        if t.zca:
            expected = t.components @ np.diag(lam / (lam + eps)) @ t.components.T
        else:
            expected = np.diag(lam / (lam + eps))
        np.testing.assert_allclose(_cov(z), expected, atol=1e-8)
        assert np.all(np.diag(_cov(z)) < 1)


def test_whitening_dtype_and_errors():
    x = correlated().astype(np.float32)
    assert T.PCAWhitening().fit(x)(x).dtype == np.float32
    assert T.ZCAWhitening().fit(x)(x).dtype == np.float32
    with pytest.raises(ValueError, match="PCAWhitening: n_components must be in \\[1, 6\\].*got 7"):
        T.PCAWhitening(n_components=7).fit(x)
    for bad in (0, -2, 1.5):
        with pytest.raises(ValueError, match="PCAWhitening: n_components must be a positive int or None"):
            T.PCAWhitening(n_components=bad)
    with pytest.raises(ValueError, match="ZCA keeps every component"):
        T.PCAWhitening(n_components=3, zca=True)
    with pytest.raises(ValueError, match="eps must be non-negative"):
        T.PCAWhitening(eps=-1)
    with pytest.raises(ValueError, match="PCAWhitening.fit: expected at least 2 samples"):
        T.PCAWhitening().fit(x[:1])
    with pytest.raises(ValueError, match=r"ZCAWhitening: fitted on samples of shape \(1, 2, 3\), got \(4, 1, 3, 2\)"):
        T.ZCAWhitening().fit(x)(x[:4].reshape(4, 1, 3, 2))


# ---------------------------------------------------------------- geometry

@pytest.mark.parametrize("padding,torch_pad", [
    (2, (2, 2, 2, 2)),
    ((1, 3), (1, 1, 3, 3)),
    ((1, 2, 3, 4), (1, 3, 2, 4)),
    ([0, 0, 0, 1], (0, 0, 0, 1)),
])
def test_pad_forms_match_torch(padding, torch_pad):
    x = batch(2, 3, 4, 5)
    expected = torch.nn.functional.pad(torch.from_numpy(x), torch_pad, value=0.5).numpy()
    np.testing.assert_array_equal(T.Pad(padding, fill=0.5)(x), expected)


def test_random_crop_outputs_are_valid_windows_and_all_windows_occur():
    n, c, H, W, p, size = 400, 2, 4, 5, 1, (3, 4)
    x = np.broadcast_to(RNG.random((1, c, H, W)).astype(np.float32), (n, c, H, W))
    padded = np.pad(x[0], ((0, 0), (p, p), (p, p)))
    windows = {padded[:, i:i + size[0], j:j + size[1]].tobytes(): (i, j)
               for i, j in itertools.product(range(H + 2 * p - size[0] + 1), range(W + 2 * p - size[1] + 1))}
    out = T.RandomCrop(size, padding=p)(x)
    assert out.shape == (n, c) + size and out.dtype == np.float32
    hits = [windows.get(o.tobytes()) for o in out]
    assert None not in hits  # every output is one of the possible crops of the padded image
    assert set(hits) == set(windows.values())  # and every crop position occurs


def test_random_crop_without_padding_and_full_size():
    x = batch(5, 3, 6, 6)
    out = T.RandomCrop(6)(x)
    np.testing.assert_array_equal(out, x)  # the only window
    out = T.RandomCrop((6, 2), padding=(0, 0, 3, 0))(x)
    assert out.shape == (5, 3, 6, 2)


@pytest.mark.parametrize("H,W,h,w,top,left", [
    # torchvision: top = int(round((H - h) / 2.0)), Python rounding (half to even)
    (5, 5, 2, 2, 2, 2),   # 1.5 -> 2
    (7, 7, 2, 2, 2, 2),   # 2.5 -> 2
    (9, 8, 2, 3, 4, 2),   # 3.5 -> 4, 2.5 -> 2
    (6, 10, 4, 3, 1, 4),  # 1.0 -> 1, 3.5 -> 4
    (4, 4, 4, 4, 0, 0),
])
def test_center_crop_rounding(H, W, h, w, top, left):
    x = batch(2, 1, H, W)
    np.testing.assert_array_equal(T.CenterCrop((h, w))(x), x[:, :, top:top + h, left:left + w])


def test_horizontal_flip_p0_p1():
    x = batch(8)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x[0]), x[0, ..., ::-1])
    out = T.RandomHorizontalFlip(0.5)(np.repeat(x[:1], 200, axis=0))
    flipped = np.array([np.array_equal(o, x[0, ..., ::-1]) for o in out])
    kept = np.array([np.array_equal(o, x[0]) for o in out])
    assert np.all(flipped | kept) and 60 < flipped.sum() < 140


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-13)])
@pytest.mark.parametrize("H,W,h,w", [
    (8, 8, 20, 20), (28, 28, 14, 14), (7, 13, 19, 5), (32, 24, 11, 40), (3, 1, 7, 2), (10, 9, 3, 3),
    (6, 6, 6, 6), (5, 17, 5, 4),
])
def test_resize_equals_torch_interpolate(H, W, h, w, dtype, tol):
    x = RNG.standard_normal((3, 2, H, W)).astype(dtype)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=(h, w), mode="bilinear",
                                               align_corners=False).numpy()
    out = T.Resize((h, w))(x)
    assert out.dtype == dtype and out.shape == (3, 2, h, w)
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    if (H, W) == (h, w):
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("H,W,size,expected", [
    (8, 8, 20, (20, 20)), (10, 20, 5, (5, 10)), (30, 20, 10, (15, 10)), (7, 10, 4, (4, 5)), (10, 7, [4], (5, 4)),
])
def test_resize_int_matches_the_smaller_edge_like_torchvision(H, W, size, expected):
    assert T.Resize(size)(batch(1, 1, H, W)).shape == (1, 1) + expected


# ---------------------------------------------------------------- PCA colour jitter

def test_pca_color_jitter_shift_statistics():
    r = np.random.default_rng(5)
    q, _ = np.linalg.qr(r.standard_normal((3, 3)))
    eigval = np.array([0.5, 0.2, 0.05])
    t = T.PCAColorJitter(alphastd=0.1, eigval=eigval, eigvec=q)
    x = np.repeat(r.random((1, 3, 4, 4)), 20000, axis=0)
    out = t(x)
    shift = out - x
    np.testing.assert_allclose(shift, shift[:, :, :1, :1] * np.ones((1, 1, 4, 4)), atol=1e-12)  # one RGB shift
    s = shift[:, :, 0, 0]  # per image
    coords = s @ q  # coordinates along the eigenvectors: alpha_i * lambda_i
    alpha = coords / eigval
    np.testing.assert_allclose(alpha.mean(axis=0), 0, atol=0.005)
    np.testing.assert_allclose(alpha.std(axis=0), 0.1, rtol=0.03)
    np.testing.assert_allclose(np.corrcoef(alpha, rowvar=False), np.eye(3), atol=0.03)
    # covariance of the shift: P diag((alphastd * lambda)^2) P^T
    expected = q @ np.diag((0.1 * eigval) ** 2) @ q.T
    np.testing.assert_allclose(np.cov(s, rowvar=False), expected, atol=0.06 * expected.max())


def test_pca_color_jitter_shift_lies_in_the_span_of_the_eigenvectors():
    # with one zero eigenvalue, every shift lies in the plane of the other two eigenvectors
    q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))
    t = T.PCAColorJitter(alphastd=0.5, eigval=[0.3, 0.1, 0.0], eigvec=q)
    x = np.zeros((500, 3, 2, 2))
    s = t(x)[:, :, 0, 0]
    np.testing.assert_allclose(s @ q[:, 2], 0, atol=1e-12)
    assert np.linalg.matrix_rank(s, tol=1e-6) == 2


def test_pca_color_jitter_fit_recovers_the_rgb_covariance():
    r = np.random.default_rng(7)
    q, _ = np.linalg.qr(r.standard_normal((3, 3)))
    lam = np.array([0.09, 0.02, 0.004])
    cov = q @ np.diag(lam) @ q.T
    pixels = r.multivariate_normal([0.5, 0.4, 0.3], cov, size=200 * 16 * 16)
    images = pixels.reshape(200, 16, 16, 3).transpose(0, 3, 1, 2)
    t = T.PCAColorJitter().fit(images)
    np.testing.assert_allclose(t.eigval, lam, rtol=0.05)
    np.testing.assert_allclose(np.abs(np.sum(t.eigvec * q, axis=0)), 1, atol=2e-3)  # same axes up to sign
    np.testing.assert_allclose(t.eigvec @ np.diag(t.eigval) @ t.eigvec.T, cov, atol=2e-3)


def test_pca_color_jitter_defaults_and_errors():
    t = T.PCAColorJitter()
    assert t.alphastd == 0.1 and t.eigval.shape == (3,) and t.eigvec.shape == (3, 3)
    x = batch(2)
    np.testing.assert_array_equal(T.PCAColorJitter(alphastd=0.0)(x), x)  # no noise at alphastd 0
    with pytest.raises(ValueError, match=r"PCAColorJitter: statistics for 3 channels, input has 1"):
        t(batch(2, 1))
    with pytest.raises(ValueError, match="PCAColorJitter: alphastd must be non-negative"):
        T.PCAColorJitter(alphastd=-0.1)
    with pytest.raises(ValueError, match=r"PCAColorJitter: eigvec must be \(3, 3\) for 3 eigenvalues"):
        T.PCAColorJitter(eigval=[1, 2, 3], eigvec=np.eye(2))
    with pytest.raises(ValueError, match=r"PCAColorJitter.fit: expected images \(N, C, H, W\)"):
        t.fit(np.zeros((3, 4, 4)))


# ---------------------------------------------------------------- errors, repr, Compose

def test_geometric_errors():
    x = batch(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"RandomCrop: crop \(6, 6\) is larger than the \(padded\) image \(5, 5\)"):
        T.RandomCrop(6, padding=(1, 1, 0, 0))(x)
    with pytest.raises(ValueError, match=r"CenterCrop: crop \(5, 2\) is larger than the image \(4, 4\)"):
        T.CenterCrop((5, 2))(x)
    for cls in (T.RandomCrop, T.CenterCrop, T.Resize):
        with pytest.raises(ValueError, match=f"{cls.__name__}: size must be positive"):
            cls(0)
        with pytest.raises(ValueError, match=rf"{cls.__name__}: size must be a single int or a tuple of two ints, "
                                             rf"got \(2, 2, 2\)$"):
            cls((2, 2, 2))
        with pytest.raises(TypeError, match=f"{cls.__name__}: size must be an int or a tuple of two ints, got 2.5$"):
            cls(2.5)
    assert T.CenterCrop((3,)).size == T.RandomCrop([3]).size == (3, 3)  # torchvision: a 1-sequence is square
    with pytest.raises(ValueError, match="Pad: padding must be a non-negative int or a tuple of 2 or 4"):
        T.Pad(-1)
    with pytest.raises(ValueError, match="Pad: padding must be"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="Pad: padding must be"):
        T.Pad(1.5)
    with pytest.raises(ValueError, match="RandomCrop: padding must be"):
        T.RandomCrop(2, padding=-1)
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must be a probability in \[0, 1\], got 1.5$"):
        T.RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError,
                       match=r"Pad: expected an image \(C, H, W\) or a batch \(N, C, H, W\), got shape \(4, 4\)"):
        T.Pad(1)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"Resize: expected an image"):
        T.Resize(2)(np.zeros((1, 1, 1, 4, 4)))


def test_value_errors():
    with pytest.raises(ValueError, match="Normalize: mean and std need one non-zero std per channel"):
        T.Normalize([0.5, 0.5], [1.0])
    with pytest.raises(ValueError, match="Normalize: mean and std need one non-zero std"):
        T.Normalize([0.5], [0.0])
    with pytest.raises(TypeError, match="Normalize: mean and std must be numbers"):
        T.Normalize("a", 1)
    with pytest.raises(ValueError, match="Normalize: 2 channel statistics for input with 3 channels"):
        T.Normalize([0, 0], [1, 1])(batch(1))
    with pytest.raises(ValueError, match="ScaleToRange: need low < high"):
        T.ScaleToRange(1, -1)
    with pytest.raises(TypeError, match="Lambda: expected a callable"):
        T.Lambda(3)


def test_compose_and_repr():
    x = batch(3, 3, 8, 8)
    c = T.Compose([T.Pad(2), T.CenterCrop(8), T.Normalize(0.5, 0.5)])
    np.testing.assert_allclose(c(x), (x - 0.5) / 0.5, rtol=1e-6)
    r = repr(c)
    assert "Pad(padding=(2, 2, 2, 2), fill=0)" in r and "CenterCrop(size=(8, 8))" in r
    assert "Normalize(mean=[0.5], std=[0.5])" in r
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4, fill=0)"
    z = T.ZCAWhitening().fit(batch(20, 3, 4, 4))
    assert repr(z) == "ZCAWhitening(eps=1e-05)"  # not the fitted 48 x 48 matrix
