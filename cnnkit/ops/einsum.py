"""``einsum``: Einstein summation (PyTorch's ``torch.einsum``, computed by ``numpy.einsum``).

    y[out] = Σ over the letters not in out of  Π_k x_k[subscripts_k]

The gradient of operand i is again an einsum: of dy with every other operand, onto the letters of operand i:

    dx_i[s_i] = Σ dy[out] · Π_{k≠i} x_k[s_k]

with two refinements: a letter that only operand i has (summed away in the forward pass) gets dx_i broadcast along
it, and a letter repeated in s_i (a diagonal, as in ``'ii->i'``) receives the gradient on that diagonal only,
zeros elsewhere. ``...`` stands for the same broadcast dims in every operand; dims of size 1 broadcast against the
same letter's size elsewhere (their gradient is summed back).
"""
from __future__ import annotations

import string

import numpy as np

from ..function import Function
from ..tensor import Tensor
from ._util import as_operand, sum_to

__all__ = ["einsum"]

LETTERS = string.ascii_letters


def _parse(equation: str, ndims: list) -> tuple:
    """(per-operand letter strings, the output's letters) with ``...`` written out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operands, got {len(ndims)}")
    for t in terms + [rhs]:
        bad = set(t.replace("...", "")) - set(LETTERS)
        if bad or t.replace("...", "").count(".") or t.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript {t!r} in {equation!r}: use letters a-z, A-Z and one "
                             f"'...' per operand")
    spare = [c for c in LETTERS if c not in eq]
    ell = 0
    for t, n in zip(terms, ndims):
        k = len(t.replace("...", ""))
        if ("..." in t and n < k) or ("..." not in t and n != k):
            raise ValueError(f"einsum: subscript {t!r} does not fit an operand with {n} dims")
        if "..." in t:
            ell = max(ell, n - k)
    ell_letters = "".join(spare[:ell])
    ins = []
    for t, n in zip(terms, ndims):
        if "..." in t:
            k = n - len(t.replace("...", ""))
            t = t.replace("...", ell_letters[ell - k:])
        ins.append(t)
    if arrow:
        out = rhs.replace("...", ell_letters)
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscript {rhs!r} repeats a letter")
        missing = set(out) - set("".join(ins))
        if missing:
            raise ValueError(f"einsum: output letters {''.join(sorted(missing))} are not in any operand")
    else:
        joined = "".join(ins)
        out = ell_letters + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in ell_letters))
    return ins, out


class Einsum(Function):
    def __init__(self, ins: list, out: str, sizes: dict, shapes: list):
        self.ins, self.out, self.sizes, self.shapes = ins, out, sizes, shapes

    def _full(self, s: str) -> tuple:
        return tuple(self.sizes[c] for c in s)

    def forward(self, *xs):
        xs = [x if x.shape == self._full(s) else np.broadcast_to(x, self._full(s)) for x, s in zip(xs, self.ins)]
        self.xs = xs
        spec = ",".join(self.ins) + "->" + self.out
        return np.asarray(np.einsum(spec, *xs, optimize=len(xs) > 2))

    def backward(self, gy):
        grads = []
        for i, (s, need) in enumerate(zip(self.ins, self.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [x for k, x in enumerate(self.xs) if k != i]
            other_subs = [t for k, t in enumerate(self.ins) if k != i]
            available = set(self.out).union(*other_subs)
            uniq = list(dict.fromkeys(s))
            kept = "".join(c for c in uniq if c in available)
            spec = ",".join([self.out] + other_subs) + "->" + kept
            g = np.asarray(np.einsum(spec, gy, *others, optimize=len(others) > 1))
            dropped = [k for k, c in enumerate(uniq) if c not in available]
            if dropped:
                g = np.broadcast_to(np.expand_dims(g, tuple(dropped)), self._full("".join(uniq)))
            if len(uniq) < len(s):  # a repeated letter: the gradient lies on that diagonal
                z = np.zeros(self._full(s), gy.dtype)
                strides = [sum(z.strides[p] for p, c in enumerate(s) if c == u) for u in uniq]
                view = np.lib.stride_tricks.as_strided(z, self._full("".join(uniq)), strides, writeable=True)
                view[...] = g
                g = z
            grads.append(sum_to(np.ascontiguousarray(g), self.shapes[i]))
        return tuple(grads) if len(grads) > 1 else grads[0]


def einsum(equation, *operands) -> Tensor:
    """Einstein summation over ``operands`` as ``equation`` says (``'ij,jk->ik'``, ``'bchw,c->bhw'``, ``'ii'``,
    ``'...ij->...ji'``); ``einsum(equation, [a, b])`` works too. Every operand has one floating dtype."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: expected the equation string first, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    xs = [as_operand(x, "einsum") for x in operands]
    dtypes = {x.dtype for x in xs}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: expected operands of one dtype, got {', '.join(sorted(map(str, dtypes)))}")
    ins, out = _parse(equation, [x.ndim for x in xs])
    for s, x in zip(ins, xs):
        for c in set(s):
            dims = [x.shape[p] for p, d in enumerate(s) if d == c]
            if len(dims) > 1 and len(set(dims)) > 1:
                raise ValueError(f"einsum: the repeated subscript {c!r} needs equal sizes, got {dims} in an operand "
                                 f"of shape {tuple(x.shape)}")
    sizes = {}
    for s, x in zip(ins, xs):
        for c, n in zip(s, x.shape):
            if c in sizes and n != sizes[c] and 1 not in (n, sizes[c]):
                raise ValueError(f"einsum: subscript {c!r} has size {n} for an operand of shape {tuple(x.shape)} "
                                 f"which does not broadcast with size {sizes[c]} elsewhere")
            sizes[c] = max(sizes.get(c, n), n) if n != 1 else sizes.get(c, 1)
    return Einsum(ins, out, sizes, [x.shape for x in xs])(*xs)
