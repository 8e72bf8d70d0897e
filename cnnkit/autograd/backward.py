"""The backward walk: reverse-mode differentiation over the recorded graph.

Every op output that requires grad knows the ``Function`` that made it (``.creator``) and its position
among that function's outputs; the function knows its inputs. ``run_backward(y, dy)`` seeds dL/dy and
visits the functions in reverse topological order without recursion: every function carries a
*generation* (one more than the newest of its inputs), and a max-heap on the generation guarantees that
all consumers of a tensor have delivered their gradients before its creator is visited. A function
receives dL/dy_i for each of its outputs (zeros for outputs nobody used) and returns dL/dx_j for each
input; a tensor used several times receives the sum (the multivariate chain rule):

    dL/dx = Σ over the uses u of x:  (∂u/∂x)ᵀ · dL/du

Leaves (tensors made by the user, parameters) accumulate their gradient into ``.grad`` over backward
calls; non-leaf tensors keep theirs only after ``retain_grad()``. After the walk the graph is freed
unless ``retain_graph=True``.

Two hooks serve code that acts on gradients as they arrive (data-parallel training averages them across
processes): ``register_post_accumulate_grad_hook(leaf, hook)`` calls ``hook(leaf)`` after every accumulation
into that leaf's ``.grad`` (once per use of the leaf in the graph: a parameter used twice calls it twice), and
``queue_callback(fn)``, called during a walk (e.g. from such a hook), runs ``fn()`` once when that walk has
finished.

This module does not import ``tensor.py`` (which imports it, for ``Tensor.backward``): ``tensor.py``
hands over its ``Tensor`` class once with ``use_tensor_class``, so that there is no import cycle.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import weakref

import numpy as np

from . import anomaly

__all__ = ["queue_callback", "register_post_accumulate_grad_hook", "run_backward", "use_tensor_class"]

_Tensor = None  # the Tensor class (set by tensor.py through use_tensor_class)
_leaf_hooks: dict = {}  # id(leaf) -> (weakref to the leaf, [hooks])
_walks = threading.local()  # per thread: a stack of queued-callback lists, one per walk in progress


class HookHandle:
    """``handle.remove()`` unregisters the hook it was returned for."""

    def __init__(self, key: int, hook):
        self.key, self.hook = key, hook

    def remove(self) -> None:
        entry = _leaf_hooks.get(self.key)
        if entry is not None and self.hook in entry[1]:
            entry[1].remove(self.hook)
            if not entry[1]:
                del _leaf_hooks[self.key]


def register_post_accumulate_grad_hook(leaf, hook) -> HookHandle:
    """Call ``hook(leaf)`` after each accumulation of a gradient into ``leaf.grad`` (``Tensor``'s method of the
    same name); the hook is dropped with the leaf. Returns a handle whose ``remove()`` unregisters it."""
    if leaf.creator is not None:
        raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors accumulate gradients")
    if not callable(hook):
        raise TypeError(f"register_post_accumulate_grad_hook: expected a callable, got {type(hook).__name__}")
    key = id(leaf)
    entry = _leaf_hooks.get(key)
    if entry is None or entry[0]() is not leaf:
        entry = _leaf_hooks[key] = (weakref.ref(leaf, lambda _ref, key=key: _leaf_hooks.pop(key, None)), [])
    entry[1].append(hook)
    return HookHandle(key, hook)


def queue_callback(fn) -> None:
    """Run ``fn()`` once the backward walk in progress has finished (PyTorch's engine ``queue_callback``)."""
    stack = getattr(_walks, "stack", None)
    if not stack:
        raise RuntimeError("queue_callback: no backward pass is running")
    stack[-1].append(fn)


def use_tensor_class(cls) -> None:
    """Tell the walk which class its tensors and the gradients it creates have (called by ``tensor.py``)."""
    global _Tensor
    _Tensor = cls


def tensor_class() -> type:
    """The Tensor class handed over by ``tensor.py`` (for the modules of this package, which do not import it)."""
    return _Tensor


def _accumulate_leaf(x, g: np.ndarray, handed_out: set, borrowed: set) -> None:
    """Add ``g`` into ``x.grad``. A leaf's gradient array is never shared with another tensor.

    A gradient taken without a copy (``borrowed``) may still be waiting as another function's output
    gradient in this walk, so the first accumulation into it makes a new array instead of adding in place.
    """
    if g.dtype != x._data.dtype:
        g = g.astype(x._data.dtype)
    if x.grad is None:
        if g.base is not None or id(g) in handed_out or not g.flags.writeable:
            g = g.copy(order="K")  # keep the memory layout (a channels-last gradient stays a plain memcpy)
        else:
            borrowed.add(id(g))
        handed_out.add(id(g))
        x.grad = _Tensor._wrap(g)
    elif id(x.grad._data) in borrowed:
        x.grad._data = x.grad._data + g
    else:
        np.add(x.grad._data, g, out=x.grad._data, casting="unsafe")
    if _leaf_hooks:
        entry = _leaf_hooks.get(id(x))
        if entry is not None and entry[0]() is x:
            for hook in list(entry[1]):
                hook(x)


def run_backward(root, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) · ``gradient`` into ``.grad`` of every leaf that requires grad (``root.backward``).

    ``gradient`` (a Tensor or an array of ``root``'s shape) is dL/d(root); it may be omitted for a
    one-element ``root`` (it is then 1). Callbacks queued during the walk run after it.
    """
    stack = getattr(_walks, "stack", None)
    if stack is None:
        stack = _walks.stack = []
    stack.append([])
    try:
        _walk(root, gradient, retain_graph)
        queued = stack[-1]
    finally:
        stack.pop()
    for fn in queued:
        fn()


def _seed(root, gradient, fn: str) -> np.ndarray:
    """dL/d(root) as an array of root's shape and dtype (1 for a one-element root when ``gradient`` is None)."""
    if not isinstance(root, _Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(f"{fn}: this tensor does not require grad and has no graph to walk; create the "
                           "inputs with requires_grad=True (and not inside ck.no_grad()) before computing it")
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(f"{fn}: a gradient can be implied only for a one-element output, got shape "
                               f"{root._data.shape}; pass backward(gradient) of that shape")
        return np.ones_like(root._data)
    seed = gradient._data if isinstance(gradient, _Tensor) else np.asarray(gradient)
    if seed.shape != root._data.shape:
        raise ValueError(f"{fn}: gradient shape {seed.shape} does not match the tensor's shape "
                         f"{root._data.shape}")
    return seed.astype(root._data.dtype, copy=False)  # never stored as a leaf's grad: see handed_out


def _walk(root, gradient, retain_graph: bool) -> None:
    seed = _seed(root, gradient, "backward")
    handed_out = {id(seed)}
    borrowed = set()
    if root.creator is None:
        _accumulate_leaf(root, seed, handed_out, borrowed)
        return

    def leaf(x, gx):
        _accumulate_leaf(x, gx, handed_out, borrowed)

    _propagate([(root, seed)], retain_graph, leaf, None)


def _propagate(seeded, retain_graph: bool, leaf, captured) -> None:
    """The walk proper from the ``(tensor, seed)`` pairs whose tensors have a creator: ``leaf(x, g)`` receives
    each gradient that reaches a leaf; with ``captured`` (a dict keyed by id of non-leaf tensors) the complete
    gradient of each such tensor is stored there when its creator is visited, and retained gradients are left
    alone (``autograd.grad``)."""
    detect = anomaly.mode.get()
    check = detect is not None and detect[0]
    counter = itertools.count()
    heap = []
    queued = set()
    for root, seed in seeded:
        f = root.creator
        if f.inputs is None:
            _raise_freed(f)
        cur = f._out_grads[root._output_index]
        f._out_grads[root._output_index] = seed if cur is None else cur + seed
        if id(f) not in queued:
            queued.add(id(f))
            heap.append((-f.generation, next(counter), f))
    heapq.heapify(heap)
    while heap:
        f = heapq.heappop(heap)[2]
        if f.inputs is None:
            _raise_freed(f)
        gys = f._out_grads
        for i, gy in enumerate(gys):
            if gy is None:
                shape, dtype = f._out_meta[i]
                gys[i] = np.zeros(shape, dtype)
        if captured is not None:
            for i, gy in enumerate(gys):
                if (id(f), i) in captured:
                    captured[(id(f), i)] = gy
        elif f._retained:
            for i, ref in f._retained.items():
                t = ref()
                if t is not None:
                    if t.grad is None:
                        t.grad = _Tensor._wrap(gys[i].copy())
                    else:  # retained gradients accumulate over backward calls, like a leaf's
                        np.add(t.grad._data, gys[i], out=t.grad._data, casting="unsafe")
        _check_versions(f)
        gxs = f.backward(*gys)
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if check:
            anomaly.check_gradients(f, gxs)
        f._out_grads = [None] * len(gys)
        for x, gx in zip(f.inputs, gxs):
            if gx is None or not x.requires_grad:
                continue
            if gx.shape != x._data.shape:
                raise RuntimeError(f"{type(f).__name__}.backward returned a gradient of shape {gx.shape} for an "
                                   f"input of shape {x._data.shape} (a bug in that op)")
            c = x.creator
            if c is None:
                leaf(x, gx)
                continue
            if c.inputs is None:
                _raise_freed(c)
            if gx.dtype != x._data.dtype:
                gx = gx.astype(x._data.dtype)
            i = x._output_index
            cur = c._out_grads[i]
            c._out_grads[i] = gx if cur is None else cur + gx
            if id(c) not in queued:
                queued.add(id(c))
                heapq.heappush(heap, (-c.generation, next(counter), c))
        if not retain_graph:
            f.release()


def _check_versions(f) -> None:
    """Refuse to differentiate through an op whose input was changed in place after the op read it."""
    for x, seen in zip(f.inputs, f._versions):
        if x._version[0] != seen:
            raise RuntimeError(f"backward: one of the variables needed for gradient computation has been "
                               f"modified by an inplace operation: [{x._data.dtype} tensor of shape "
                               f"{tuple(x._data.shape)}], an input of {type(f).__name__}, is at version "
                               f"{x._version[0]}; expected version {seen} instead")


def _raise_freed(f) -> None:
    raise RuntimeError(f"backward: the graph through {type(f).__name__} was already freed by an earlier "
                       f"backward(); pass retain_graph=True to the first backward() to walk it twice")
