"""Filter grids, feature maps and receptive-field rectangles: numbers against the weights, torch and summary."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image

import cnnkit as ck
from cnnkit import nn
from cnnkit.insight import feature_maps, filter_grid, receptive_box, receptive_fields, summary, visualize
from cnnkit.insight.receptive_box import parse_layer_unit
from cnnkit.insight.visualize import grid_shape, tile_origin


def tiles_of(grid, n, hw):
    return [grid[r:r + hw[0], c:c + hw[1]] for r, c in (tile_origin(i, n, hw) for i in range(n))]


def minmax(a):
    return (a - a.min()) / (a.max() - a.min())


def test_colour_filter_grid():
    model = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU())
    grid, n = filter_grid(model)
    assert n == 5 and grid_shape(5) == (2, 3)
    assert grid.shape == (1 + 2 * 4, 1 + 3 * 4, 3)
    w = model[0].weight._data.astype(np.float64)
    for i, t in enumerate(tiles_of(grid, n, (3, 3))):
        np.testing.assert_allclose(t, minmax(w[i]).transpose(1, 2, 0), rtol=0, atol=1e-12)
        assert t.min() == 0 and t.max() == 1
    assert grid[0].min() == 1.0 and grid[:, 0].min() == 1.0            # white frame


def test_grey_filter_grid_lenet_and_two_channels():
    model = ck.models.get("lenet5")
    grid, n = filter_grid(model)
    assert n == 6 and grid.ndim == 2
    w = model.features.c1.weight._data.astype(np.float64)
    for i, t in enumerate(tiles_of(grid, n, (5, 5))):
        np.testing.assert_allclose(t, minmax(w[i, 0]), rtol=0, atol=1e-12)
    model = nn.Sequential(nn.Conv2d(2, 3, (3, 5)))
    grid, n = filter_grid(model)
    w = model[0].weight._data.astype(np.float64).reshape(6, 3, 5)
    assert n == 6 and grid.ndim == 2
    for i, t in enumerate(tiles_of(grid, n, (3, 5))):
        np.testing.assert_allclose(t, minmax(w[i]), rtol=0, atol=1e-12)


def test_feature_maps_equal_torch():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3),
                          nn.AvgPool2d(2))
    x = np.random.default_rng(0).random((1, 10, 10)).astype(np.float32)
    maps = feature_maps(model, x)
    assert list(maps) == ["0", "2", "3", "4"]
    w0, b0 = (torch.from_numpy(p._data) for p in (model[0].weight, model[0].bias))
    w3, b3 = (torch.from_numpy(p._data) for p in (model[3].weight, model[3].bias))
    t0 = TF.conv2d(torch.from_numpy(x[None]), w0, b0, padding=1)
    t2 = TF.max_pool2d(TF.relu(t0), 2)
    t3 = TF.conv2d(t2, w3, b3)
    for name, ref in (("0", t0), ("2", t2), ("3", t3), ("4", TF.avg_pool2d(t3, 2))):
        np.testing.assert_allclose(maps[name], ref[0].numpy(), rtol=1e-5, atol=1e-6)
    assert model.training                                             # modes restored


class Ones(nn.Module):
    """Convolutions and average pooling with positive weights: a unit's input gradient is non-zero exactly on
    its receptive field (clipped to the image)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, stride=2),
                                  nn.Conv2d(1, 1, 3, padding=2, dilation=2), nn.AvgPool2d(3, stride=1, padding=1),
                                  nn.Conv2d(1, 1, (3, 5), padding=(0, 2)))
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                m.weight._data[...] = 1.0
                m.bias._data[...] = 0.0

    def forward(self, x):
        return self.body(x)


def torch_unit_gradient(model, size, layer, unit):
    """The input gradient of one unit of ``layer`` in the same network, in torch, on ones."""
    x = torch.ones((1,) + size, dtype=torch.float64, requires_grad=True)
    out = x
    for i, m in enumerate(model.body):
        if isinstance(m, nn.Conv2d):
            out = TF.conv2d(out, torch.ones(m.weight.shape, dtype=torch.float64), stride=m.stride,
                            padding=m.padding, dilation=m.dilation)
        else:
            out = TF.avg_pool2d(out, m.kernel_size, m.stride, m.padding)
        if f"body.{i}" == layer:
            break
    out[0, 0, unit[0], unit[1]].backward()
    return x.grad[0, 0].numpy()


@pytest.mark.parametrize("layer", ["body.0", "body.1", "body.2", "body.3", "body.4", "body.5"])
def test_receptive_field_is_the_gradient_support_and_summary_size(layer):
    """The rectangle has summary's size; inside the image it is exactly the set of input pixels that move the
    unit. At the borders it is clipped, and the pixels that reach the unit only through the zero padding of an
    inner feature map do not move it, so there the influence is contained in the clipped rectangle."""
    model = Ones()
    size = (1, 61, 67)
    s = summary(model, size)
    box = receptive_box(model, size, layer)
    assert box.size == s[layer].receptive_field and box.jump == s[layer].jump
    field = next(f for f in receptive_fields(model, size) if f.name == layer)
    assert box.start == field.start and box.size == field.receptive_field
    assert (box.bottom - box.top + 1, box.right - box.left + 1) == tuple(s[layer].receptive_field)
    ho, wo = s[layer].output_shape[-2:]
    rng = np.random.default_rng(0)
    units = {(0, 0), (ho - 1, wo - 1), (0, wo - 1), (ho // 2, wo // 3), box.unit}
    units |= {(int(rng.integers(ho)), int(rng.integers(wo))) for _ in range(6)}
    interior = 0
    assert receptive_box(model, size, layer, (ho - 1, 0)) == box.at((ho - 1, 0))
    for unit in sorted(units):
        box = box.at(unit)
        rows, cols = np.nonzero(torch_unit_gradient(model, size, layer, unit))
        support = (rows.min(), cols.min(), rows.max(), cols.max())
        top, left, bottom, right = box.clipped
        assert top <= support[0] and left <= support[1] and support[2] <= bottom and support[3] <= right
        if box.top >= 0 and box.left >= 0 and box.bottom < size[1] and box.right < size[2]:
            assert support == box.clipped == (box.top, box.left, box.bottom, box.right)
            interior += 1
    assert interior >= 1


def test_lenet_receptive_fields():
    model = ck.models.get("lenet5")
    box = receptive_box(model, (1, 28, 28), "features.c3", (0, 0))
    # c1 (5×5, pad 2) -> s2 (2, stride 2) -> c3 (5×5): r = 5 + 1 + 4·2 = 14, unit 0 centred at 0.5
    # c1 (5×5, pad 2): centre 0; s2 (2×2, stride 2): centre 0.5, jump 2; c3 (5×5): centre 0.5 + 2·2 = 4.5,
    # r = 5 + 1 + 4·2 = 14, so rows 4.5 − 6.5 … 4.5 + 6.5
    assert (box.top, box.left, box.bottom, box.right) == (-2, -2, 11, 11)
    assert box.size == (14, 14) and box.jump == (2, 2) and box.start == (4.5, 4.5)
    assert box.clipped == (0, 0, 11, 11)
    assert box.at((9, 9)).clipped == (16, 16, 27, 27)
    assert receptive_box(model, (1, 28, 28), "features.s4").size == summary(model, (1, 28, 28))[
        "features.s4"].receptive_field


def test_receptive_field_bad_layer_and_unit():
    model = ck.models.get("lenet5")
    with pytest.raises(ValueError, match="valid layers: .*features.c1, .*features.s2") as e:
        receptive_box(model, (1, 28, 28), "features.c9")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="outside"):
        receptive_box(model, (1, 28, 28), "features.c3", (10, 0))
    with pytest.raises(ValueError, match="LAYER:ROW,COL"):
        parse_layer_unit("features.c3:4")
    assert parse_layer_unit("features.c3:4,5") == ("features.c3", (4, 5))
    assert parse_layer_unit("features.c3") == ("features.c3", None)


def test_visualize_writes_a_png_per_layer_and_an_index(tmp_path):
    model = ck.models.get("lenet5")
    x = np.random.default_rng(0).random((1, 28, 28)).astype(np.float32)
    written = visualize(model, x, tmp_path / "vis", receptive_field="features.c3:2,3")
    names = [p.split("/")[-1] for p in written]
    assert names[0] == "filters_features.c1.png" and names[-1] == "index.md"
    assert "receptive_field_features.c3.png" in names
    assert sum(n.startswith("features_") for n in names) == 5            # c1, s2, c3, s4, c5
    index = (tmp_path / "vis" / "index.md").read_text()
    for n in names[:-1]:
        assert f"]({n})" in index
    box = receptive_box(model, (1, 28, 28), "features.c3", (2, 3))
    assert f"rows {box.top}–{box.bottom}, columns {box.left}–{box.right}" in index
    grid, _ = filter_grid(model)
    png = np.asarray(Image.open(tmp_path / "vis" / "filters_features.c1.png"))
    scale = png.shape[0] // grid.shape[0]
    np.testing.assert_array_equal(png[::scale, ::scale], np.rint(grid * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="valid layers"):
        visualize(model, x, tmp_path / "vis2", receptive_field="nope")
    with pytest.raises(ValueError, match="filter_grid: .* no Conv2d"):
        visualize(nn.Sequential(nn.MaxPool2d(2)), x, tmp_path / "vis2")
    with pytest.raises(ValueError, match="nothing to draw"):
        visualize(model, x, tmp_path / "vis2", filters=False, feature_maps=False)
    assert not (tmp_path / "vis2").exists()                              # nothing written
