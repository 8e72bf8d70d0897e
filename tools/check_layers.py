#!/usr/bin/env python3
"""The layering rule of docs/design.md, checked: imports inside the package go only downwards, and no
modules import each other in a cycle.

Floors (a module may import only from its own floor or below):
  0  backend, random, function, tensor, creation, legacy_tensors, device, cuda, accelerator, backends, jit,
     autograd, kernels, and any module or package named _*
  1  ops
  2  nn
  3  optim, data, io, models, utils
  4  train, insight
  5  onnx, distributed, serve
  6  cli, __main__, run
The package's own __init__ is the public facade above every floor: it may import anything, and no module
inside the package may import it. One upward tie is allowed: tensor -> ops (Tensor's methods call the ops);
it is left out of the cycle search too. Every import counts, also one inside a function (a lazy import is
still a dependency); importing ``a.b.c`` counts as a dependency on ``a.b.c`` only, not on its parent packages.

Usage: python tools/check_layers.py [PACKAGE_DIR]   (default: cnnkit)
Prints one line per finding and exits 1 if there is any, else prints "layers ok" and exits 0.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

FLOORS = {
    "backend": 0, "random": 0, "function": 0, "tensor": 0, "creation": 0, "device": 0, "autograd": 0, "kernels": 0,
    "cuda": 0, "accelerator": 0, "backends": 0, "legacy_tensors": 0, "jit": 0,
    "ops": 1,
    "nn": 2,
    "optim": 3, "data": 3, "io": 3, "models": 3, "utils": 3,
    "train": 4, "insight": 4,
    "onnx": 5, "distributed": 5, "serve": 5,
    "cli": 6, "__main__": 6, "run": 6,
}
ALLOWED_UP = {("tensor", "ops")}
FACADE = "__init__"


def part_of(module: str) -> str:
    """The top-level part a module belongs to: 'ops' for pkg.ops.conv, '__init__' for pkg itself."""
    names = module.split(".")
    return names[1] if len(names) > 1 else FACADE


def floor_of(part: str) -> int | None:
    if part in FLOORS:
        return FLOORS[part]
    if part.startswith("_") and part != FACADE:
        return 0
    return None


def modules_of(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``package`` (a package maps to its __init__)."""
    found = {}
    for f in sorted(package.rglob("*.py")):
        parts = list(f.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = f
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` is or lies inside (an attribute of a module -> that module)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module inside the package, line) for every import statement in the file, at any depth."""
    root = module.split(".")[0]
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from a import b` imports the module a.b if there is one, else an attribute of a
            targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in known else source for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] != root:
                continue
            target = _resolve(t, known)
            if target is not None and target != module:
                out.append((target, node.lineno))
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            advanced = False
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


def check(package: Path) -> list[str]:
    """Every finding as one line: upward imports, parts missing from the floor table, cycles."""
    package = Path(package)
    known = modules_of(package)
    findings, graph = [], {m: set() for m in known}
    for module, path in known.items():
        src = part_of(module)
        src_floor = floor_of(src)
        if src != FACADE and src_floor is None:
            findings.append(f"{path}: '{src}' has no floor in the layering table")
            continue
        for target, line in imports_of(module, path, known):
            dst = part_of(target)
            allowed_tie = (src, dst) in ALLOWED_UP
            if not allowed_tie:
                graph[module].add(target)
            if src == FACADE:
                continue
            if dst == FACADE:
                findings.append(f"{path}:{line}: {module} imports the package facade {target}")
                continue
            dst_floor = floor_of(dst)
            if dst_floor is None:
                continue  # reported for its own files
            if dst_floor > src_floor and not allowed_tie:
                findings.append(f"{path}:{line}: {module} (floor {src_floor}) imports {target} "
                                f"(floor {dst_floor})")
    for component in _cycles(graph):
        findings.append("import cycle: " + " <-> ".join(component))
    return findings


def main(argv: list[str]) -> int:
    findings = check(Path(argv[1] if len(argv) > 1 else "cnnkit"))
    for line in findings:
        print(line)
    if not findings:
        print("layers ok")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
