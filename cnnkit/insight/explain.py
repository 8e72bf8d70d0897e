"""``explain_conv``: one convolution layer worked out by hand, step by step, and as im2col + one GEMM.

A layer of K filters of size F×F×D (D = input channels), stride S, zero padding P, dilation d, on an
H×W×D input:

    o[k, i, j] = b[k] + Σ_{c, a, e} x_pad[c, i·S + a·d, j·S + e·d] · w[k, c, a, e]
    F_eff = d·(F − 1) + 1                       (the span of a dilated kernel)
    H' = ⌊(H − F_eff + 2P)/S⌋ + 1,  W' = ⌊(W − F_eff + 2P)/S⌋ + 1,  D' = K
    parameters = (F·F·D + 1)·K                   (weights and one bias per filter)

im2col turns the loops into one matrix product: every window position becomes a row of F·F·D inputs
(channel-major: c, then kernel row, then kernel column), the filters become the columns of W (F·F·D × K):

    O (H'·W' × K) = cols (H'·W' × F·F·D) · W + b,    o[k, i, j] = O[i·W' + j, k]

The input and the weights are small integers (seeded), so every printed product and sum is exact. The
output is also computed with cnnkit's ``conv2d``; ``check()`` says whether the three ways agree.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd.grad_mode import no_grad
from ..io.atomic import atomic_output
from ..nn import functional as F
from ..ops import validate
from ..tensor import Tensor

__all__ = ["ConvExplanation", "ConvStep", "explain_conv", "render_conv_png"]


def num(v) -> str:
    """A float as the integer it is, or with up to 4 significant digits."""
    v = float(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.4g}"


def term(v) -> str:
    """A number as a term of a sum or product: negatives in parentheses, (−1)."""
    t = num(v)
    return f"({t})" if t.startswith("-") else t


def matrix_text(a, indent: str = "  ") -> str:
    """A 2-D array as right-aligned columns."""
    cells = [[num(v) for v in row] for row in np.atleast_2d(a)]
    width = max(len(c) for row in cells for c in row)
    return "\n".join(indent + " ".join(c.rjust(width) for c in row) for row in cells)


@dataclass
class ConvStep:
    """One window position: output element ``o[filter, row, col]``; ``window`` (D, F, F) are the padded
    inputs under the kernel taps (top-left at ``top``, ``left`` of the padded input), ``products`` = window ·
    w[filter], ``channel_sums`` their sums per channel, ``total`` = Σ products + bias."""

    filter: int
    row: int
    col: int
    top: int
    left: int
    window: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    bias: float
    total: float


@dataclass
class ConvExplanation:
    """Everything :func:`explain_conv` worked out; ``str()`` / ``text()`` is the printed explanation."""

    input: np.ndarray          # (D, H, W)
    padded: np.ndarray         # (D, H + 2P, W + 2P)
    weight: np.ndarray         # (K, D, F, F)
    bias: np.ndarray           # (K,)
    stride: int
    padding: int
    dilation: int
    output: np.ndarray         # (K, H', W'), from cnnkit's conv2d
    steps: list = field(default_factory=list)
    cols: np.ndarray | None = None       # (H'·W', F·F·D)
    weight_matrix: np.ndarray | None = None  # (F·F·D, K)
    gemm: np.ndarray | None = None       # (H'·W', K) = cols · W + b
    output_size: tuple = ()
    size_formula: str = ""
    params: int = 0
    params_formula: str = ""

    def check(self) -> bool:
        """Whether the step sums, the im2col GEMM and cnnkit's conv2d give the same output."""
        by_steps = np.zeros_like(self.output)
        for s in self.steps:
            by_steps[s.filter, s.row, s.col] = s.total
        k, ho, wo = self.output.shape
        by_gemm = self.gemm.T.reshape(k, ho, wo)
        return bool(np.allclose(by_steps, self.output, rtol=0, atol=1e-9)
                    and np.allclose(by_gemm, self.output, rtol=0, atol=1e-9))

    def text(self, max_steps: int | None = None) -> str:
        d, h, w = self.input.shape
        k, _, f, _ = self.weight.shape
        ho, wo = self.output_size
        p, s, dl = self.padding, self.stride, self.dilation
        lines = [f"Convolution: a {h}×{w}×{d} input (H×W×D), {k} filter{'s' if k > 1 else ''} of {f}×{f}×{d}, "
                 f"stride {s}, padding {p}, dilation {dl}",
                 f"output size: {self.size_formula}",
                 f"parameters: {self.params_formula}", ""]
        for c in range(d):
            lines += [f"input channel {c}" + (f", padded with {p} ring{'s' if p > 1 else ''} of zeros:" if p else ":"),
                      matrix_text(self.padded[c])]
        for o in range(k):
            lines.append(f"filter w{o} (bias b{o} = {num(self.bias[o])}):")
            for c in range(d):
                lines += [f" channel {c}", matrix_text(self.weight[o, c])]
        lines.append("")
        shown = self.steps if max_steps is None else self.steps[:max_steps]
        for n, st in enumerate(shown, 1):
            rows = f"{st.top}–{st.top + dl * (f - 1)}"
            colr = f"{st.left}–{st.left + dl * (f - 1)}"
            lines.append(f"step {n}: o[{st.filter}, {st.row}, {st.col}] — filter w{st.filter} on rows {rows}, "
                         f"columns {colr} of the padded input" + (f" (every {dl}th)" if dl > 1 else ""))
            for c in range(d):
                terms = " + ".join(f"{term(x)}·{term(wt)}" for x, wt in
                                   zip(st.window[c].ravel(), self.weight[st.filter, c].ravel(), strict=True))
                lines.append(f"  c{c}: {terms} = {num(st.channel_sums[c])}")
            parts = " + ".join(term(v) for v in st.channel_sums)
            lines.append(f"  sum: {parts} + b{st.filter} = {parts} + {term(st.bias)} = {num(st.total)}")
        if len(shown) < len(self.steps):
            lines.append(f"... {len(self.steps) - len(shown)} more steps")
        lines.append("")
        for o in range(k):
            lines += [f"output o[{o}] ({ho}×{wo}):", matrix_text(self.output[o])]
        lines += ["", f"im2col: one row per window position ({ho}·{wo} = {ho * wo}), one column per input under the "
                      f"kernel (D·F·F = {d}·{f}·{f} = {d * f * f}; channel, kernel row, kernel column):",
                  matrix_text(self.cols),
                  f"weights as a matrix W ({d * f * f}×{k}), one column per filter:",
                  matrix_text(self.weight_matrix),
                  f"one GEMM: cols ({ho * wo}×{d * f * f}) · W ({d * f * f}×{k}) + b = ({ho * wo}×{k}); column k, "
                  f"read row by row as {ho}×{wo}, is o[k]:",
                  matrix_text(self.gemm),
                  "steps, GEMM and cnnkit's conv2d agree: " + ("yes" if self.check() else "NO")]
        return "\n".join(lines)

    __str__ = text


def _formula(n: int, f: int, p: int, s: int, dl: int, axis: str) -> tuple[int, str]:
    """The output size along one axis and the formula with the numbers filled in."""
    f_eff = dl * (f - 1) + 1
    top = n - f_eff + 2 * p
    out = top // s + 1
    cut = "" if top % s == 0 else f" (⌊{top}/{s}⌋ = {top // s}: the last {top % s} pixel(s) are never reached)"
    fs = "F" if dl == 1 else "F_eff"
    return out, f"{axis}' = ({axis} − {fs} + 2P)/S + 1 = ({n} − {f_eff} + 2·{p})/{s} + 1 = {out}{cut}"


def explain_conv(input_shape=(5, 5, 3), kernel: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1,
                 channels_out: int = 1, seed: int = 0, *, values=None, weight=None, bias=None) -> ConvExplanation:
    """Work out a convolution on a seeded integer input of ``input_shape`` (H, W) or (H, W, D): inputs in
    {0, 1, 2}, weights in {−1, 0, 1}, biases in {−1, 0, 1}. Returns a :class:`ConvExplanation`.

    From Python, ``values`` (D, H, W), ``weight`` (K, D, F, F) and ``bias`` (K,) replace the seeded numbers
    (e.g. a worked example from a book); their shapes must agree with the other arguments."""
    fn = "explain_conv"
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) not in (2, 3):
        raise ValueError(f"{fn}: input_shape must be (H, W) or (H, W, C), got {input_shape!r}")
    h, w = (validate.positive_int(v, "input_shape", fn) for v in shape[:2])
    d = validate.positive_int(shape[2], "input_shape", fn) if len(shape) == 3 else 1
    f = validate.positive_int(kernel, "kernel", fn)
    s = validate.positive_int(stride, "stride", fn)
    p = validate.non_negative_int(padding, "padding", fn)
    dl = validate.positive_int(dilation, "dilation", fn)
    k = validate.positive_int(channels_out, "channels_out", fn)
    seed = validate.integer(seed, "seed", fn)
    f_eff = dl * (f - 1) + 1
    if h * w * d > 4096 or k > 64:
        raise ValueError(f"{fn}: the explanation prints every product, so it is for small layers (H·W·C ≤ 4096, "
                         f"at most 64 filters), got {h}×{w}×{d} and {k} filters")
    if h + 2 * p < f_eff or w + 2 * p < f_eff:
        raise ValueError(f"{fn}: the {f}×{f} kernel (span {f_eff} with dilation {dl}) does not fit the {h}×{w} "
                         f"input padded by {p}")
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(d, h, w)).astype(np.float64)
    wt = rng.integers(-1, 2, size=(k, d, f, f)).astype(np.float64)
    b = rng.integers(-1, 2, size=k).astype(np.float64)
    for name, given, default in (("values", values, x), ("weight", weight, wt), ("bias", bias, b)):
        if given is not None and np.shape(given) != default.shape:
            raise ValueError(f"{fn}: {name} must have shape {default.shape}, got {np.shape(given)}")
    x = x if values is None else np.array(values, dtype=np.float64)
    wt = wt if weight is None else np.array(weight, dtype=np.float64)
    b = b if bias is None else np.array(bias, dtype=np.float64)
    ho, size_h = _formula(h, f, p, s, dl, "H")
    wo, size_w = _formula(w, f, p, s, dl, "W")
    with no_grad():
        out = F.conv2d(Tensor(x[None]), Tensor(wt), Tensor(b), stride=s, padding=p, dilation=dl)._data[0]
    padded = np.pad(x, ((0, 0), (p, p), (p, p)))
    taps = dl * np.arange(f)
    steps = []
    for o in range(k):
        for i in range(ho):
            for j in range(wo):
                win = padded[:, i * s + taps[:, None], j * s + taps[None, :]]
                prod = win * wt[o]
                sums = prod.reshape(d, -1).sum(axis=1)
                steps.append(ConvStep(o, i, j, i * s, j * s, win, prod, sums, float(b[o]), float(sums.sum() + b[o])))
    cols = np.stack([st.window.ravel() for st in steps[:ho * wo]])          # filter 0's windows: all positions
    wmat = wt.reshape(k, -1).T
    gemm = cols @ wmat + b
    formula = f"{size_h};  {size_w}  →  {ho}×{wo}×{k}" + (" (the input's size)" if (ho, wo) == (h, w) else "")
    if dl > 1:
        formula = f"F_eff = d·(F − 1) + 1 = {dl}·({f} − 1) + 1 = {f_eff};  " + formula
    params = (f * f * d + 1) * k
    return ConvExplanation(x, padded, wt, b, s, p, dl, out, steps, cols, wmat, gemm, (ho, wo), formula, params,
                           f"(F·F·D + 1)·K = ({f}·{f}·{d} + 1)·{k} = {params}")


def render_conv_png(ex: ConvExplanation, path, max_frames: int = 36) -> str:
    """Draw filter 0's steps as a grid of frames (matplotlib): the padded channel 0 with the window outlined and
    the output so far, then the finished output; writes ``path`` (PNG) and returns it."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    from matplotlib.patches import Rectangle

    steps = [st for st in ex.steps if st.filter == 0][:max_frames]
    n = len(steps) + 1
    cols = min(n, 6)
    rows = -(-n // cols)
    plane = ex.padded[0]
    ph, pw = plane.shape
    f = ex.weight.shape[2]
    span = ex.dilation * (f - 1) + 1
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    inside = np.zeros_like(plane)
    inside[ex.padding:ph - ex.padding, ex.padding:pw - ex.padding] = 1
    for ax in axes.ravel():
        ax.set_axis_off()
    small = max(ph, pw) <= 12
    for ax, st in zip(axes.ravel()[:len(steps)], steps, strict=True):
        ax.imshow(inside, cmap="Blues", vmin=0, vmax=3)
        if small:
            for (r, c), v in np.ndenumerate(plane):
                ax.text(c, r, num(v), ha="center", va="center", fontsize=7)
        ax.add_patch(Rectangle((st.left - 0.5, st.top - 0.5), span, span, fill=False, ec="red", lw=2))
        ax.set_title(f"o[0,{st.row},{st.col}] = {num(st.total)}", fontsize=8)
    last = axes.ravel()[len(steps)]
    last.imshow(ex.output[0], cmap="coolwarm")
    if ex.output[0].size <= 144:
        for (r, c), v in np.ndenumerate(ex.output[0]):
            last.text(c, r, num(v), ha="center", va="center", fontsize=7)
    last.set_title("output o[0]", fontsize=8)
    d = ex.input.shape[0]
    fig.suptitle(f"{ex.input.shape[1]}×{ex.input.shape[2]}×{d} input, padding {ex.padding}, stride {ex.stride}, "
                 f"{f}×{f} filter w0" + (" (channel 0 shown; sums over all channels)" if d > 1 else ""), fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.6 / (2.5 * rows + 0.4), wspace=0.1,
                        hspace=0.25)
    with atomic_output(path) as file:
        fig.savefig(file, format="png", dpi=80)
    return str(path)
