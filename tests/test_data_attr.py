"""No code in cnnkit/ reads ``x.data`` (now torch's detached Tensor) where it means the array ``x._data``:
tools/check_data_attr.py scans the package's syntax trees against its short allowlist. It does catch such a read,
and its ``--fix`` rewrites one. Also: no module of cnnkit/autograd imports tensor.py (tensor.py imports that package,
so such an import would be an import cycle through the package's __init__)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.repo_tools import load_tool

ROOT = Path(__file__).resolve().parent.parent


def _tool():
    return load_tool("check_data_attr")


check_data_attr = _tool()


def test_cnnkit_reads_no_array_through_data():
    found = check_data_attr.findings([ROOT / "cnnkit"], ROOT)
    assert found == [], "\n".join(f"{f}:{line}: {expr} (use ._data)" for f, line, _, expr in found)


def test_command_line_says_ok():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "check_data_attr.py")], check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "data ok", done.stdout + done.stderr


def test_finds_and_fixes_array_reads(tmp_path):
    f = tmp_path / "mod.py"
    f.write_text("from .data import x  # not an access\n"
                 "s = 'a.data'\n"
                 "y = t.data.shape + (p.grad\n"
                 "     .data[0],)\n"
                 "é = 1; z = u.data\n", encoding="utf-8")
    found = check_data_attr.findings([f], ROOT)
    assert sorted((line, expr) for _, line, _, expr in found) == [(3, "t.data"), (4, "p.grad.data"), (5, "u.data")]
    check_data_attr.fix(found)
    assert f.read_text(encoding="utf-8") == ("from .data import x  # not an access\n"
                                             "s = 'a.data'\n"
                                             "y = t._data.shape + (p.grad\n"
                                             "     ._data[0],)\n"
                                             "é = 1; z = u._data\n")
    assert check_data_attr.findings([f], ROOT) == []


def test_allowlist_names_real_accesses():
    """Every allowlist entry is still used (a stale entry would let a later array read through)."""
    used = set()
    for path, owner in check_data_attr.ALLOWED:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        if any(isinstance(n, ast.Attribute) and n.attr == "data" and ast.unparse(n.value) == owner
               for n in ast.walk(tree)):
            used.add((path, owner))
    assert used == check_data_attr.ALLOWED


def test_autograd_does_not_import_tensor():
    for f in sorted((ROOT / "cnnkit" / "autograd").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.level == 2 and (node.module == "tensor" or node.module is None and
                                                 any(a.name == "tensor" for a in node.names))), f"{f}: imports tensor"
                assert node.module != "cnnkit.tensor", f"{f}: imports cnnkit.tensor"
            elif isinstance(node, ast.Import):
                assert not any(a.name == "cnnkit.tensor" for a in node.names), f"{f}: imports cnnkit.tensor"
