"""ck.load on hypothesis-mutated checkpoints: CheckpointError (a ValueError) or a successful load, nothing else;
no hang (the deadline); no allocation beyond the file's size (tracemalloc's peak)."""
from __future__ import annotations

import tracemalloc

import numpy as np
from hypothesis import given

import cnnkit as ck
from cnnkit.io.checkpoint import CheckpointError, load, save
from tests.fuzz_helpers import FUZZ, files


def _seed_bytes():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c.safetensors"
        save({"model": {"w": ck.tensor(np.arange(12, dtype=np.float32).reshape(3, 4)), "n": ck.tensor(3)},
              "opt": {"state": {0: {"m": np.ones(2)}}, "groups": [{"lr": 0.1, "params": (0,)}]}, "epoch": 1}, p)
        return p.read_bytes()


SEED = _seed_bytes()


def test_the_seed_loads(tmp_path):
    (tmp_path / "c.safetensors").write_bytes(SEED)
    assert load(tmp_path / "c.safetensors")["epoch"] == 1


@FUZZ
@given(files(SEED))
def test_mutated_checkpoints_fail_only_with_checkpoint_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "c.safetensors"
    path.write_bytes(data)
    for verify in (True, False):
        tracemalloc.start()
        try:
            load(path, verify=verify)
        except CheckpointError:
            pass
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < 64 * len(data) + (1 << 20), f"{peak} bytes allocated for a {len(data)}-byte file"


def _file(tmp_path, obj_json: str):
    from safetensors.numpy import save as st_save

    doc = '{"format": "cnnkit-checkpoint", "version": 1, "object": ' + obj_json + "}"
    p = tmp_path / "c.safetensors"
    p.write_bytes(st_save({"t/w": np.zeros(2, np.float32)}, metadata={"cnnkit": doc}))
    return p


def test_metadata_nested_too_deeply_or_with_unhashable_keys(tmp_path):
    import pytest

    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load(_file(tmp_path, deep))
    with pytest.raises(CheckpointError, match="a dict key is a list"):
        load(_file(tmp_path, '{"__dict__": [[[1, 2], 3]]}'))
