"""F.interpolate against torch: nearest, nearest-exact, linear, bilinear, bicubic, trilinear (align_corners both
ways), area; size and
scale_factor (integer and fractional, recomputed or not); forward and gradient in float64 and float32."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as TF

import cnnkit as ck
import cnnkit.nn.functional as F
from tests.ops.engine_helpers import check_all, normal

RESIZES = [dict(scale_factor=2), dict(scale_factor=3), dict(scale_factor=0.5), dict(scale_factor=1.7),
           dict(scale_factor=(2, 0.6)), dict(size=(3, 4)), dict(size=(11, 13)), dict(size=7), dict(size=(5, 7)),
           dict(scale_factor=1.3, recompute_scale_factor=True), dict(size=(1, 1))]


@pytest.mark.parametrize("resize", RESIZES, ids=str)
@pytest.mark.parametrize("mode, align", [("nearest", None), ("nearest-exact", None), ("bilinear", False),
                                         ("bilinear", True), ("bicubic", False), ("bicubic", True)])
def test_interpolate_2d(mode, align, resize):
    x = normal((2, 3, 5, 7), 0)
    check_all(lambda t: F.interpolate(t, mode=mode, align_corners=align, **resize),
              lambda t: TF.interpolate(t, mode=mode, align_corners=align, **resize), [x],
              gradcheck=resize.get("size") != (11, 13), what=f"interpolate {mode} {align} {resize}")


@pytest.mark.parametrize("resize", [dict(scale_factor=2), dict(scale_factor=0.7), dict(size=9), dict(size=2)], ids=str)
@pytest.mark.parametrize("mode, align", [("nearest", None), ("linear", False), ("linear", True)])
def test_interpolate_1d(mode, align, resize):
    check_all(lambda t: F.interpolate(t, mode=mode, align_corners=align, **resize),
              lambda t: TF.interpolate(t, mode=mode, align_corners=align, **resize), [normal((2, 3, 6), 1)],
              what=f"interpolate {mode} {resize}")


def test_interpolate_area():
    check_all(lambda t: F.interpolate(t, size=(3, 2), mode="area"),
              lambda t: TF.interpolate(t, size=(3, 2), mode="area"), [normal((1, 2, 6, 5), 2)], what="area")


@pytest.mark.parametrize("resize", [dict(scale_factor=2), dict(scale_factor=(1.5, 0.5, 2)), dict(size=(2, 5, 3)),
                                    dict(size=1)], ids=str)
@pytest.mark.parametrize("mode, align", [("nearest", None), ("trilinear", False), ("trilinear", True)])
def test_interpolate_3d(mode, align, resize):
    check_all(lambda t: F.interpolate(t, mode=mode, align_corners=align, **resize),
              lambda t: TF.interpolate(t, mode=mode, align_corners=align, **resize), [normal((1, 2, 3, 4, 2), 4)],
              what=f"interpolate {mode} {align} {resize}")


def test_bicubic_borders_and_downsampling():
    """Taps beyond the border repeat the edge pixel; downsampling by 3 reaches past both ends."""
    for resize in [dict(scale_factor=1 / 3), dict(size=(2, 9)), dict(size=(1, 1))]:
        for align in (False, True):
            check_all(lambda t: F.interpolate(t, mode="bicubic", align_corners=align, **resize),
                      lambda t: TF.interpolate(t, mode="bicubic", align_corners=align, **resize),
                      [normal((1, 1, 6, 6), 5)], what=f"bicubic {align} {resize}")


def test_upsample_layers():
    x = normal((1, 2, 3, 4), 3)
    for ours, theirs in [(ck.nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                         (ck.nn.Upsample(size=(5, 6), mode="bilinear", align_corners=False),
                          torch.nn.Upsample(size=(5, 6), mode="bilinear", align_corners=False)),
                         (ck.nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2)),
                         (ck.nn.UpsamplingNearest2d(size=5), torch.nn.UpsamplingNearest2d(size=5)),
                         (ck.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True),
                          torch.nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True))]:
        check_all(ours, theirs, [x], what=repr(ours))


@pytest.mark.parametrize("call, match", [
    (lambda x: F.interpolate(x, mode="cubic", scale_factor=2), "mode must be one of"),
    (lambda x: F.interpolate(x, mode="trilinear", scale_factor=2), "needs a 5-d input"),
    (lambda x: F.interpolate(x, size=3, scale_factor=2), "exactly one of size and scale_factor"),
    (lambda x: F.interpolate(x, scale_factor=2, align_corners=True), "align_corners option"),
    (lambda x: F.interpolate(x, scale_factor=2, mode="linear"), "needs a 3-d input"),
    (lambda x: F.interpolate(x[0, 0], scale_factor=2), "expected a 3-d"),
    (lambda x: F.interpolate(x, scale_factor=0.01), "must be positive"),
])
def test_interpolate_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(ck.zeros(1, 1, 4, 4))
