#!/usr/bin/env python3
"""No ``x.data`` read as an array inside the package: ``Tensor.data`` is torch's detached Tensor, the array is
``Tensor._data`` (a slot, read directly on hot paths).

Every attribute access named ``data`` in the package's source (found with ``ast``, so strings, comments and
``from .data import ...`` do not count) is a finding unless it is on the allowlist below: attributes that are not
a Tensor's at all. A branch written before the change that still reads ``t.data`` as an array is caught here
(and by tests/test_data_attr.py).

Usage: python tools/check_data_attr.py [--fix] [PATH ...]   (default: cnnkit)
Prints one line per finding and exits 1 if there is any, else prints "data ok". With ``--fix`` every finding is
rewritten in place to ``._data`` (the mechanical sweep; review the diff: a finding that is a Tensor used through
the public API, not an array, should be written torch's way instead).
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

# (file relative to the repository, the expression before ".data"): attributes named data that are not a
# Tensor's array. Keep this short: each entry is a reason.
ALLOWED = {
    # the command line's --data option (argparse namespaces) and the options object the train command builds
    ("cnnkit/cli/run_data.py", "args"),
    ("cnnkit/cli/evaluate.py", "args"),
    ("cnnkit/cli/train.py", "args"),
    ("cnnkit/cli/train.py", "o"),
    # train.restore.Restored.data: the name of the data set a checkpoint was trained on
    ("cnnkit/train/restore.py", "self"),
    ("cnnkit/cli/evaluate.py", "restored"),
    ("cnnkit/cli/export.py", "restored"),
    ("cnnkit/cli/predict.py", "restored"),
    ("cnnkit/cli/visualize.py", "restored"),
    ("cnnkit/serve/model.py", "restored"),
    ("cnnkit/serve/model.py", "r"),
}


def findings(paths: list[Path], root: Path) -> list[tuple[Path, int, int, str]]:
    """(file, line, byte column of the word ``data``, source of the expression) for every access not allowed."""
    found = []
    for base in paths:
        for f in sorted([base] if base.is_file() else base.rglob("*.py")):
            rel = f.resolve().relative_to(root).as_posix() if f.resolve().is_relative_to(root) else f.as_posix()
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and node.attr == "data"):
                    continue
                owner = ast.unparse(node.value)
                if (rel, owner) in ALLOWED or owner.endswith(".ctypes"):  # array.ctypes.data: NumPy's pointer
                    continue
                found.append((f, node.end_lineno, node.end_col_offset - len("data"), f"{owner}.data"))
    return found


def fix(found: list[tuple[Path, int, int, str]]) -> None:
    """Rewrite each ``.data`` found to ``._data`` (columns are UTF-8 byte offsets, as ``ast`` gives them)."""
    by_file: dict[Path, list[tuple[int, int]]] = {}
    for f, line, col, _ in found:
        by_file.setdefault(f, []).append((line, col))
    for f, spots in by_file.items():
        lines = f.read_bytes().split(b"\n")
        for line, col in sorted(spots, reverse=True):
            text = lines[line - 1]
            if text[col:col + 4] != b"data":
                raise ValueError(f"{f}:{line}: expected 'data' at column {col}, found {text[col:col + 4]!r}")
            lines[line - 1] = text[:col] + b"_data" + text[col + 4:]
        tmp = f.with_name(f.name + ".tmp")
        tmp.write_bytes(b"\n".join(lines))
        tmp.replace(f)


def main(argv: list[str]) -> int:
    do_fix = "--fix" in argv
    args = [a for a in argv[1:] if a != "--fix"]
    root = Path(__file__).resolve().parent.parent
    found = findings([Path(a) for a in args] or [root / "cnnkit"], root)
    for f, line, col, expr in found:
        print(f"{f}:{line}:{col + 1}: {expr}" + (" -> ._data" if do_fix else ""))
    if do_fix:
        fix(found)
        return 0
    if not found:
        print("data ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
