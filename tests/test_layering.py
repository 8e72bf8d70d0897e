"""The layering rule of docs/design.md as a test: tools/check_layers.py finds nothing in cnnkit/, and it does
find an upward import, an import of the package facade, a part with no floor and a cycle in a small fake
package."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo_tools import load_tool

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    return load_tool("check_layers")


check_layers = _checker()


def test_cnnkit_is_layered():
    assert check_layers.check(ROOT / "cnnkit") == []


def test_command_line():
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "check_layers.py"), str(ROOT / "cnnkit")],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "layers ok", done.stdout + done.stderr


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        f = pkg / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return pkg


CLEAN = {
    "tensor.py": "def add(a, b):\n    from .ops import elementwise\n    return elementwise.add(a, b)\n",
    "ops/__init__.py": "from . import elementwise\n",
    "ops/elementwise.py": "from ..tensor import add as _add\nfrom .. import backend\n",
    "backend.py": "",
    "kernels/__init__.py": "",
    "kernels/conv.py": "from pkg import backend\n",
    "nn/__init__.py": "from .conv import Conv2d\n",
    "nn/conv.py": "from ..ops import elementwise\nimport pkg.kernels.conv\nclass Conv2d: pass\n",
    "_util.py": "",
}


def test_fake_package_clean(tmp_path):
    """The allowed tensor -> ops tie (a lazy import) is neither an upward import nor half of a cycle."""
    assert check_layers.check(_package(tmp_path, CLEAN)) == []


@pytest.mark.parametrize("where, text, expected", [
    ("ops/elementwise.py", "from ..nn import conv\n", "pkg.ops.elementwise (floor 1) imports pkg.nn.conv (floor 2)"),
    ("ops/elementwise.py", "def f():\n    from pkg.nn.conv import Conv2d\n", "imports pkg.nn.conv (floor 2)"),
    ("kernels/conv.py", "import pkg.ops.elementwise\n", "pkg.kernels.conv (floor 0) imports pkg.ops.elementwise"),
    ("backend.py", "from . import nn\n", "pkg.backend (floor 0) imports pkg.nn (floor 2)"),
    ("nn/conv.py", "import pkg\n", "imports the package facade pkg"),
    ("extras.py", "", "'extras' has no floor"),
])
def test_catches_upward_import(tmp_path, where, text, expected):
    files = dict(CLEAN)
    files[where] = files.get(where, "") + text
    findings = check_layers.check(_package(tmp_path, files))
    assert any(expected in f for f in findings), findings


def test_catches_cycle(tmp_path):
    files = dict(CLEAN)
    files["ops/shape.py"] = "def f():\n    from . import elementwise\n"  # lazy, still a dependency
    files["ops/elementwise.py"] += "from .shape import f\n"
    findings = check_layers.check(_package(tmp_path, files))
    assert findings == ["import cycle: pkg.ops.elementwise <-> pkg.ops.shape"]
    assert check_layers.main(["check_layers", str(tmp_path / "pkg")]) == 1
