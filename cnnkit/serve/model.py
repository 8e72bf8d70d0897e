"""The served model: a ``cnnkit train`` checkpoint answering one drawing at a time with every layer's output.

A drawing goes through exactly the steps of ``cnnkit predict``, with the same library functions
(:mod:`cnnkit.data.images`): read with Pillow as grayscale (transparent pixels on white), optionally inverted
(v → 255 − v), framed like the digits / MNIST training images (crop to the ink's bounding box, pad to a square,
resize to 20×20, centre in 28×28), scaled to [0, 1] and standardized with the checkpoint's per-channel mean and
standard deviation (:func:`cnnkit.train.restore` rebuilds the model and that standardization); then

    p_k = exp(z_k − max z) / Σ_j exp(z_j − max z)      (softmax of the logits z, in float64)

The layers shown, their names and their output shapes are the rows of ``summary`` (:mod:`cnnkit.insight`).

Concurrency. Requests are answered on several threads, but the forward pass runs under one lock,
``Predictor._lock``: the forward hooks that collect the layer outputs are attached to the one shared model.
Under the lock each request attaches its hooks, runs the model in eval mode under
``no_grad`` (grad mode is per thread), copies what it collected and removes its hooks before the next request
can start, so no request sees another's state and the model is the same after every request. The parameters
are also frozen (``requires_grad`` False). A LeNet-5 forward pass of one image takes about a millisecond;
decoding, framing and PNG encoding, the larger part of a request, run outside the lock, in parallel.
"""
from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

from ..data.datasets.catalog import DIGIT_FRAMED, LIGHT_ON_DARK, NAMES, class_names
from ..data.images import has_light_border, prepare_image, read_image
from ..insight import summary
from ..insight.visualize import FEATURE_MAP_LAYERS
from ..io.checkpoint import load
from ..nn import Linear
from ..train.restore import restore
from .tiles import layer_tiles, png_base64, viridis_palette
from .upload import BadUpload, check_not_blank, check_png

SHOWN_LAYERS = (*FEATURE_MAP_LAYERS, Linear)
"""The layers whose outputs a prediction returns: convolutions, pooling and fully connected layers."""


def _finite_or_none(value):
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


class Predictor:
    """The model of the checkpoint at ``path``, ready to answer drawings (:meth:`predict_png`).

    ``layers``: the rows of ``ck.summary`` (name, type, output shape for one image) of the layers shown."""

    def __init__(self, path):
        self.path = str(path)
        restored = restore(path, data_names=NAMES)
        if restored.channels not in (1, 3):
            raise ValueError(f"{path} holds {restored.describe()} for {restored.channels}-channel inputs; "
                             f"a drawing gives 1 (grayscale) or 3 (RGB) channels")
        self.restored = restored
        self.model = restored.model.eval().requires_grad_(False)
        self.frame = restored.data in DIGIT_FRAMED and restored.channels == 1
        self.light_on_dark = restored.data in LIGHT_ON_DARK and restored.channels == 1
        self.input_shape = (restored.channels, restored.size, restored.size)
        table = summary(self.model, self.input_shape, depth=None)
        modules = dict(self.model.named_modules())
        self.layers = [row for row in table if row.leaf and isinstance(modules.get(row.name), SHOWN_LAYERS)]
        self._hooked = {name: modules[name] for name in dict.fromkeys(row.name for row in self.layers)}
        self.total_params = table.total_params
        n_classes = restored.num_classes or int(np.prod(table.rows[0].output_shape[1:]))  # the model's output
        self.class_names = class_names(restored.data, n_classes)
        history = load(path).get("history")  # the per-epoch metrics, which restore() does not keep
        self._history = history if isinstance(history, list) else []
        self._meta = restored.meta
        self._lock = threading.Lock()
        viridis_palette()  # built now, not by the first requests at once

    # ----- the model's facts -------------------------------------------------------------------------------
    def info(self) -> dict:
        """What ``GET /api/model`` answers: the architecture, the parameter count, the data set and the test
        accuracy of the last epoch (``cnnkit train`` validates on the test split after every epoch)."""
        last = self._history[-1] if self._history and isinstance(self._history[-1], dict) else {}
        r = self.restored
        return {
            "model": r.name, "description": r.describe(), "model_kwargs": self._meta.get("model_kwargs", {}),
            "parameters": int(self.total_params), "data": r.data, "classes": self.class_names,
            "input_shape": list(self.input_shape), "epoch": r.epoch,
            "test_accuracy": _finite_or_none(last.get("val_acc")), "test_loss": _finite_or_none(last.get("val_loss")),
            "preprocessing": {"mean": r.mean.tolist(), "std": r.std.tolist(), "framed": self.frame,
                              "light_on_dark": self.light_on_dark},
            "layers": [{"name": row.name, "type": row.type, "shape": list(row.output_shape), "params": row.params}
                       for row in self.layers],
            "checkpoint": os.path.basename(self.path),
        }

    # ----- one drawing -------------------------------------------------------------------------------------
    def prepare(self, data: bytes, invert: bool = False) -> tuple:
        """The PNG ``data`` as ``cnnkit predict`` prepares an image file: float32 (C, size, size) in [0, 1]
        (before standardization), and whether its border is light (after ``invert``)."""
        check_png(data)
        fd, name = tempfile.mkstemp(suffix=".png", prefix="cnnkit-serve-")  # the reader takes a file name
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            try:
                pixels = read_image(name, self.restored.channels)
            except ValueError as e:
                raise BadUpload(400, f"predict: {str(e).replace(name, 'the upload')}") from None
        finally:
            os.unlink(name)
        check_not_blank(pixels)
        if invert:
            pixels = 255 - pixels
        return prepare_image(pixels, self.restored.size, self.frame), has_light_border(pixels)

    def forward(self, x: np.ndarray) -> tuple:
        """Logits (classes,) and the outputs of the shown layers ((module, array of one sample), in call order) for one
        standardized input ``x`` (C, H, W); under the lock (see the module docstring)."""
        captured = []

        def keep(module, inputs, output):
            captured.append((module, np.array(output._data[0], copy=True)))

        with self._lock:
            handles = [module.register_forward_hook(keep) for module in self._hooked.values()]
            try:
                logits = self.restored.logits(np.ascontiguousarray(x[None]))[0].copy()  # eval, under no_grad
            finally:
                for handle in handles:
                    handle.remove()
        return logits, captured

    def predict_png(self, data: bytes, invert: bool = False) -> dict:
        """The answer of ``POST /api/predict`` to the PNG ``data``."""
        x01, light_border = self.prepare(data, invert)
        logits, captured = self.forward(self.restored.normalize(x01[None])[0])
        z = logits.astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        names = {id(m): name for name, m in self._hooked.items()}
        outputs = [(names[id(module)], out) for module, out in captured]
        if len(outputs) != len(self.layers):
            raise RuntimeError(f"Predictor: the forward pass called {len(outputs)} of the layers shown, the summary "
                               f"{len(self.layers)}")  # the model's forward differs from the summary's pass
        layers = []
        for row, (name, out) in zip(self.layers, outputs, strict=True):
            if name != row.name or (1, *out.shape) != tuple(row.output_shape):
                raise RuntimeError(f"Predictor: layer {name} {out.shape} does not match the summary's {row.name} "
                                   f"{row.output_shape}")  # the model's forward differs from the summary's pass
            layers.append({"name": row.name, "type": row.type, "shape": list(row.output_shape), **layer_tiles(out)})
        k = int(np.argmax(z))
        classes = self.class_names
        gray = x01.mean(axis=0) if x01.shape[0] > 1 else x01[0]
        return {
            "prediction": k, "label": classes[k], "classes": classes, "probabilities": p.tolist(),
            "input": {"shape": list(x01.shape), "png": png_base64(np.rint(gray * 255).astype(np.uint8)),
                      "pixels": np.round(x01.astype(np.float64), 4).tolist()},
            "layers": layers,
            "light_background": bool(self.light_on_dark and light_border),
            "inverted": bool(invert),
        }
