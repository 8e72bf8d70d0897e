"""Data-parallel training on 2 ranks (``mpiexec -n 2`` on 127.0.0.1), against one process on the same data order.

Skipped only where mpi4py is not installed (``pip install 'cnnkit[distributed]'``; the test extra has it).
"""
from __future__ import annotations

import numpy as np
import pytest

from .mpirun import WORKER, python, run

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'cnnkit[distributed]')")


def _check(done):
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def _rel_err(a, ref):
    return float(np.max(np.abs(a - ref) / (np.abs(ref) + 1e-3 * np.abs(ref).max() + 1e-300)))


@pytest.mark.parametrize("options", [[], ["--sync-bn"], ["--sync-bn", "--bucket-mb", "0.0005"],
                                     ["--graph-changes", "--bucket-mb", "0.0000954"]],
                         ids=["no-bn", "sync-bn", "sync-bn-tiny-buckets", "graph-changes"])
def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(tmp_path, options):
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    steps = 8
    done, _ = run(2, WORKER, "steps", tmp_path / "two", "--batch", 4, "--steps", steps, *options)
    _check(done)
    reference_options = [o.replace("--sync-bn", "--bn") for o in options if o in ("--sync-bn", "--graph-changes")]
    _check(python(WORKER, "steps", tmp_path / "one", "--batch", 8, "--steps", steps, *reference_options))
    ranks = [np.load(tmp_path / "two" / f"rank{r}.npz") for r in (0, 1)]
    reference = np.load(tmp_path / "one" / "rank0.npz")
    assert sorted(ranks[0].files) == sorted(set(reference.files) | {"started_early", "redone"})
    assert len([k for k in reference.files if k.startswith(f"{steps}/")]) >= 4
    if "--bucket-mb" in options:  # all-reduces of complete buckets started while backward was still running
        assert ranks[0]["started_early"] > 0 and ranks[1]["started_early"] > 0
    if "--graph-changes" in options:
        # 100-byte buckets: extra.bias and extra.weight alone fill the first; used twice after a step that used them
        # once, their bucket starts after the first use and is reduced again after backward
        assert ranks[0]["redone"] > 0
    for key in reference.files:  # every step, every parameter and buffer
        assert np.array_equal(ranks[0][key], ranks[1][key]), f"{key} differs between the ranks"
        if reference[key].dtype.kind == "f":
            assert _rel_err(ranks[0][key], reference[key]) <= 1e-10, key
        else:
            assert np.array_equal(ranks[0][key], reference[key]), key
    last = f"{steps}/extra.weight" if "--graph-changes" in options else f"{steps}/0.weight"
    assert not np.allclose(ranks[0][last], ranks[0][last.replace(f"{steps}/", "1/")])  # training moved it


def test_per_rank_batchnorm_differs_from_the_global_batch(tmp_path):
    """The default (per-rank statistics) is not the global batch's: documented, and seen here."""
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    done, _ = run(2, WORKER, "steps", tmp_path / "two", "--batch", 4, "--steps", 3, "--bn")
    _check(done)
    _check(python(WORKER, "steps", tmp_path / "one", "--batch", 8, "--steps", 3, "--bn"))
    two, one = np.load(tmp_path / "two" / "rank0.npz"), np.load(tmp_path / "one" / "rank0.npz")
    assert np.array_equal(two["3/0.weight"], np.load(tmp_path / "two" / "rank1.npz")["3/0.weight"])
    assert _rel_err(two["3/0.weight"], one["3/0.weight"]) > 1e-6


def test_a_raising_rank_aborts_the_job_with_its_message():
    done, seconds = run(2, WORKER, "raise", timeout=60)
    assert done.returncode != 0
    assert "rank 1 failed on purpose" in done.stderr and "[rank 1]" in done.stderr
    assert "did not abort" not in done.stdout
    # the abort ends the job in about a second on a quiet machine; the bound only tells an abort from a hang (the
    # run's own timeout is 60 s), with room for a loaded CI machine
    assert seconds < 45, f"the job took {seconds:.1f} s to end"


def test_different_models_on_the_ranks_are_reported_at_start():
    done, seconds = run(2, WORKER, "mismatch", timeout=60)
    assert done.returncode != 0
    assert "check_same_model: the model differs between ranks (rank(s) 1 differ from rank 0)" in done.stderr
    assert "'0.weight' is (5, 4) float32 on rank 1 but (3, 4) float32 on rank 0" in done.stderr
    assert seconds < 45


@pytest.mark.slow
def test_resume_after_an_interrupted_two_rank_run_continues_exactly(tmp_path):
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    whole.mkdir()
    broken.mkdir()
    _check(run(2, WORKER, "fit", whole, 4)[0])
    # 64 samples, 2 ranks, batch 8: 4 batches per epoch; rank 1 fails in its 11th batch, during epoch 3
    done, _ = run(2, WORKER, "fit", broken, 4, "--fail-at-batch", 11)
    assert done.returncode != 0 and "failed on purpose at batch 11" in done.stderr
    assert not (broken / "final.npz").exists()
    log = (broken / "log.csv").read_text().splitlines()
    assert len(log) == 3  # header + 2 epochs written by rank 0 before the failure
    _check(run(2, WORKER, "fit", broken, 4, "--resume")[0])
    a, b = np.load(whole / "final.npz"), np.load(broken / "final.npz")
    assert sorted(a.files) == sorted(b.files) and len(a.files) == 9
    for key in a.files:
        assert np.array_equal(a[key], b[key]), key
    rows_whole = [r.split(",")[:5] for r in (whole / "log.csv").read_text().splitlines()]
    rows_resumed = [r.split(",")[:5] for r in (broken / "log.csv").read_text().splitlines()]
    assert rows_whole == rows_resumed  # epoch, train and validation loss/accuracy of all 4 epochs


CLI = ["-m", "cnnkit", "train", "lenet5", "--distributed", "--limit", "160", "--batch-size", "16", "--schedule",
       "none", "--quiet"]


@pytest.mark.slow
def test_cli_distributed_run_resumes_exactly_and_rank_0_alone_reports(tmp_path):
    import cnnkit as ck

    whole, _ = run(2, *CLI, "--epochs", "3", "--out", tmp_path / "whole")
    _check(whole)
    assert whole.stderr.count("epoch 1/3:") == 1 and "on 2 processes (16 images each per step)" in whole.stderr
    assert whole.stdout.count("test accuracy:") == 1
    _check(run(2, *CLI, "--epochs", "2", "--out", tmp_path / "part")[0])
    resumed, _ = run(2, *CLI, "--epochs", "3", "--out", tmp_path / "part", "--resume")
    _check(resumed)
    assert "resumed from" in resumed.stderr and resumed.stderr.count("epoch 3/3:") == 1
    a = ck.load(tmp_path / "whole" / "checkpoint.safetensors")
    b = ck.load(tmp_path / "part" / "checkpoint.safetensors")
    assert a["epoch"] == b["epoch"] == 3 and sorted(a["model"]) == sorted(b["model"])
    for key, value in a["model"].items():
        assert np.array_equal(np.asarray(value), np.asarray(b["model"][key])), key
    assert whole.stdout == resumed.stdout  # the test accuracy and loss, reduced over the ranks
    # the reduction over the ranks' shards of the test set equals one process evaluating the whole test set
    single = python("-m", "cnnkit", "eval", tmp_path / "whole" / "checkpoint.safetensors", "--limit", "160")
    _check(single)
    assert single.stdout.splitlines()[0] == whole.stdout.strip()


@pytest.mark.slow
def test_cli_error_on_the_ranks_ends_the_job_with_its_message(tmp_path):
    done, seconds = run(2, *CLI, "--out", tmp_path, "--resume", tmp_path / "missing.safetensors", timeout=60)
    assert done.returncode != 0
    assert "cnnkit train: error: --resume: no checkpoint at" in done.stderr
    assert seconds < 30
