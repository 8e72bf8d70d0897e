"""The engine's config: scoped overrides with kernels.using, per thread, validated."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from cnnkit import kernels


def test_defaults_and_scope_restores():
    before = kernels.config()
    assert before.algorithm is None and before.winograd_min_channels == 32
    with kernels.using(algorithm="winograd", keep_columns=0) as cfg:
        assert kernels.config() is cfg
        assert cfg.algorithm == "winograd" and cfg.keep_columns == 0
        assert cfg.column_budget == before.column_budget                        # the rest is unchanged
    assert kernels.config() == before


def test_nested_scopes_stack():
    with kernels.using(column_budget=100, threads=1):
        with kernels.using(column_budget=7):
            assert kernels.config().column_budget == 7 and kernels.config().threads == 1
        assert kernels.config().column_budget == 100
    assert kernels.config().column_budget == kernels.Config().column_budget


def test_scope_restores_after_an_exception():
    before = kernels.config()
    with pytest.raises(RuntimeError):
        with kernels.using(piece_min=3):
            raise RuntimeError("inside")
    assert kernels.config() == before


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        kernels.config().threads = 5


def test_a_value_set_in_one_thread_is_not_seen_in_another():
    """Two threads in overlapping scopes each see their own value; a new thread starts with the defaults."""
    barrier = threading.Barrier(2)
    seen = {}

    def worker(name, budget):
        with kernels.using(column_budget=budget):
            barrier.wait()                                   # both scopes are open now
            seen[name] = kernels.config().column_budget
            barrier.wait()
        seen[name + " after"] = kernels.config().column_budget

    threads = [threading.Thread(target=worker, args=(name, budget)) for name, budget in (("a", 11), ("b", 22))]
    with kernels.using(column_budget=33):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert kernels.config().column_budget == 33
    default = kernels.Config().column_budget
    assert seen == {"a": 11, "b": 22, "a after": default, "b after": default}


@pytest.mark.parametrize("options,error,match", [
    (dict(algoritm="winograd"), TypeError, "unknown option 'algoritm'"),
    (dict(algorithm="fft"), ValueError, "algorithm .* got 'fft'"),
    (dict(threads=0), ValueError, "threads to be at least 1, got 0"),
    (dict(threads="2"), TypeError, "threads to be an int, got '2'"),
    (dict(column_budget=1.5), TypeError, "column_budget to be an int"),
    (dict(keep_columns=-1), ValueError, "keep_columns to be at least 0"),
    (dict(piece_min=True), TypeError, "piece_min to be an int"),
    (dict(split_blas_kernels=1), TypeError, "split_blas_kernels to be a bool or None"),
    (dict(split_blas_kernels="yes"), TypeError, "split_blas_kernels to be a bool or None"),
    (dict(weight_order_pixels=math.nan), TypeError, "weight_order_pixels to be a number"),
    (dict(weight_order_pixels=-1.0), ValueError, "weight_order_pixels to be at least 0"),
    (dict(onednn_linear_min=-1), ValueError, "onednn_linear_min to be at least 0, got -1"),
    (dict(onednn_linear_min=2.0), TypeError, "onednn_linear_min to be an int"),
])
def test_bad_options_name_the_option(options, error, match):
    before = kernels.config()
    with pytest.raises(error, match=match):
        with kernels.using(**options):
            pass
    assert kernels.config() == before


def test_good_values():
    with kernels.using(weight_order_pixels=math.inf, threads=np.int64(3), algorithm=None) as cfg:
        assert cfg.weight_order_pixels == math.inf and cfg.threads == 3 and type(cfg.threads) is int
    for name in kernels.ALGORITHMS:
        with kernels.using(algorithm=name):
            assert kernels.config().algorithm == name


def test_select_follows_the_ladder_and_the_forced_algorithm():
    def geom(k, pad, groups=1, hw=(8, 8)):
        return kernels.ConvGeometry(hw, hw, (k, k), (1, 1), (1, 1), pad, groups)

    g3, g1 = geom(3, (1, 1, 1, 1)), geom(1, (0, 0, 0, 0))
    assert kernels.select(g1, (2, 4, 8, 8), (4, 4, 1, 1)) == "pointwise"
    assert kernels.select(geom(3, (1, 1, 1, 1), groups=4), (2, 4, 8, 8), (4, 1, 3, 3)) == "depthwise"
    assert kernels.select(g3, (1, 4, 8, 8), (64, 4, 3, 3)) == "weight_order"               # 64 pixels ≤ 64
    assert kernels.select(g3, (2, 32, 8, 8), (32, 32, 3, 3)) == "winograd"
    assert kernels.select(g3, (2, 4, 8, 8), (4, 4, 3, 3)) == "im2col"
    with kernels.using(winograd_min_channels=4):
        assert kernels.select(g3, (2, 4, 8, 8), (4, 4, 3, 3)) == "winograd"
    for name in ("im2col", "weight_order", "winograd"):
        with kernels.using(algorithm=name):
            assert kernels.select(g3, (2, 4, 8, 8), (4, 4, 3, 3)) == name
    with kernels.using(algorithm="pointwise"), pytest.raises(ValueError, match="forced algorithm 'pointwise'"):
        kernels.select(g3, (2, 4, 8, 8), (4, 4, 3, 3))
    with kernels.using(algorithm="winograd"), pytest.raises(ValueError, match="forced algorithm 'winograd'"):
        kernels.select(geom(5, (2, 2, 2, 2)), (2, 4, 8, 8), (4, 4, 5, 5))
    with pytest.raises(ValueError, match="expected an algorithm of .* got 'fft'"):
        kernels.forward("fft", np.zeros((1, 4, 8, 8)), np.zeros((4, 4, 3, 3)), g3)
