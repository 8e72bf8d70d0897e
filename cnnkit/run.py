"""Run an unmodified PyTorch script on cnnkit: ``cnnkit run SCRIPT.py [ARGS]`` or
``python -m cnnkit.run SCRIPT.py [ARGS]``.

For the duration of the run, an import hook placed first on ``sys.meta_path`` resolves ``torch`` to ``cnnkit``
and every ``torch.X.Y`` to ``cnnkit.X.Y`` (``torch.nn.functional`` → ``cnnkit.nn.functional``,
``torch.utils.data`` → ``cnnkit.utils.data``, ...); a submodule cnnkit lacks fails to import with a message that
says so. Any ``torch`` modules already imported are set aside and put back afterwards, as are ``sys.argv``
and ``sys.path``, so the aliases exist for that run only. A one-line notice on stderr says what is happening.
The script's own exceptions print their traceback (it is the user's program) and give exit code 1; its
``sys.exit(code)`` gives ``code``.

This module is an entry point like ``__main__``: it resolves names to cnnkit's modules by name (``importlib``),
the way the import system would.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import os
import runpy
import sys
import traceback

from ._compat import ABSENT

__all__ = ["TorchAlias", "run_script", "torch_resolved_to_cnnkit"]

NOTICE = ("cnnkit run: running {script} with 'torch' resolved to cnnkit (CPU only; differences are listed in "
          "docs/torch-compatibility.md)")


class TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """An import hook: ``torch`` is ``cnnkit``, ``torch.X`` is ``cnnkit.X``."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        target = "cnnkit" + spec.name[len("torch"):]
        try:
            return importlib.import_module(target)
        except ModuleNotFoundError:
            reason = ABSENT.get(spec.name)
            raise ModuleNotFoundError(f"No module named {spec.name!r}: cnnkit has no {target}"
                                      + (f" ({reason})" if reason else "") + "; see docs/torch-compatibility.md",
                                      name=spec.name) from None

    def exec_module(self, module):
        pass  # the cnnkit module is already executed


def _is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")


@contextlib.contextmanager
def torch_resolved_to_cnnkit():
    """Within the block, ``import torch`` (and ``torch.X``) gives cnnkit; imported torch modules are set aside and
    restored afterwards."""
    hook = TorchAlias()
    saved_modules = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _is_torch(k)]}
    sys.meta_path.insert(0, hook)
    try:
        yield
    finally:
        sys.meta_path.remove(hook)
        for k in [k for k in sys.modules if _is_torch(k)]:
            del sys.modules[k]
        sys.modules.update(saved_modules)


def run_script(script: str, args=(), stderr=None) -> int:
    """Run ``script`` as ``__main__`` with ``sys.argv = [script, *args]`` and ``torch`` resolved to cnnkit; returns
    the exit code. ``OSError`` if the script cannot be read."""
    stderr = sys.stderr if stderr is None else stderr
    if not os.path.isfile(script):
        raise OSError(f"no such script: {script}")
    print(NOTICE.format(script=script), file=stderr)
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *map(str, args)]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        with torch_resolved_to_cnnkit():
            runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=stderr)
        return 1
    except Exception:  # the script's own error: show it as Python would
        traceback.print_exc(file=stderr)
        return 1
    finally:
        sys.argv[:] = saved_argv
        sys.path[:] = saved_path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m cnnkit.run SCRIPT.py [ARGS ...]\n\n" + __doc__.split("\n\n")[1], file=sys.stderr)
        return 0 if argv else 2
    try:
        return run_script(argv[0], argv[1:])
    except OSError as e:
        print(f"cnnkit run: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
