"""docs/torch-compatibility.md is generated from the code (tools/torch_compat.py): regenerating it must give the
file as committed, every deliberately absent name must really be absent (and say why when asked for), and every
documented difference must name something both PyTorch and cnnkit have."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import cnnkit as ck
from cnnkit._compat import ABSENT, DIFFERENCES
from tests.repo_tools import load_tool

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    return load_tool("torch_compat")


def _lookup(root, dotted: str):
    obj = root
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def test_document_is_current():
    text = (ROOT / "docs" / "torch-compatibility.md").read_text(encoding="utf-8")
    assert text == _tool().render(), "docs/torch-compatibility.md is out of date: run python tools/torch_compat.py"


@pytest.mark.parametrize("name", sorted(ABSENT))
def test_absent_names_are_absent_and_say_why(name):
    _lookup(torch, name)  # PyTorch has it (else the entry is pointless)
    owner, _, attr = name.rpartition(".")
    ck_owner = ck.zeros(1) if owner == "torch.Tensor" else _lookup(ck, owner)
    with pytest.raises(AttributeError, match="deliberately absent") as info:
        getattr(ck_owner, attr)
    assert ABSENT[name] in str(info.value)


@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_differences_name_existing_things(name):
    _lookup(torch, name)
    if name == "torch.Tensor.data":
        assert hasattr(ck.zeros(1), "data")
        return
    import cnnkit.nn.parallel  # noqa: F401  (imported so the lookup below finds it)
    _lookup(ck, name)


def test_supported_names_exist_in_both():
    tool = _tool()
    for torch_ns, ck_ns in tool.NAMESPACES:
        names = tool.supported(torch_ns, ck_ns)
        assert names or torch_ns == "torch.nn.parallel"
        for n in names:
            assert hasattr(tool._resolve(torch_ns), n) and hasattr(tool._resolve(ck_ns), n)


def test_the_issue_names_are_supported():
    """The names issue 12 found missing in real programs are in the generated lists."""
    tool = _tool()
    need = {"torch": ["device", "meshgrid", "sin", "cos", "sinh", "cosh", "linspace", "normal", "eye", "bmm", "topk",
                      "is_tensor", "Size", "cuda", "accelerator", "backends", "utils"],
            "torch.Tensor": ["device", "is_cuda", "cpu", "cuda", "to", "type", "sub_", "add_", "mul_", "zero_",
                             "copy_", "clamp_", "fill_", "normal_", "uniform_", "grad_fn"],
            "torch.nn": ["LazyConv2d", "LazyLinear", "parallel"], "torch.nn.functional": ["one_hot", "interpolate"],
            "torch.nn.init": ["kaiming_normal"], "torch.optim": ["Adadelta", "Adagrad"],
            "torch.cuda": ["is_available", "device_count"], "torch.accelerator": ["is_available"],
            "torch.backends.cudnn": ["benchmark", "deterministic"],
            "torch.utils.data": ["DataLoader", "Dataset", "TensorDataset", "random_split", "Subset"]}
    for torch_ns, names in need.items():
        have = set(tool.supported(torch_ns, dict(tool.NAMESPACES)[torch_ns]))
        assert set(names) <= have, f"{torch_ns}: missing {sorted(set(names) - have)}"


def test_measured_names_are_supported_or_absent_with_a_reason():
    """Each of the 200 names most used in public CNN code (tools/torch_usage.csv) is in cnnkit, or listed as
    deliberately absent with the reason; the counts are consistent and ranked by files."""
    tool = _tool()
    rows = tool.read_usage()
    assert len(rows) == 200 and len({r[0] for r in rows}) == 200
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    for name, occurrences, files, repos in rows:
        _lookup(torch, name)  # a real PyTorch name
        assert 1 <= repos <= min(files, len(tool.REPOSITORIES)) and files <= occurrences, name
        assert tool.status(name) in ("supported", "differs", "absent"), f"{name} is used in {files} files of " \
            f"public CNN code but cnnkit neither has it nor says why (add it, or a reason in cnnkit/_compat.py)"


def test_readme_states_the_measured_figures():
    tool = _tool()
    counts = {}
    for name, *_ in tool.read_usage():
        counts[tool.status(name)] = counts.get(tool.status(name), 0) + 1
    present, differs, absent = counts.get("supported", 0) + counts.get("differs", 0), counts.get("differs", 0), \
        counts.get("absent", 0)
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"{present} of them are in cnnkit ({differs} with a documented difference), and the other {absent}" in text
