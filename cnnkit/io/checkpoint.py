"""``ck.save`` / ``ck.load``: checkpoints as safetensors files, never pickle.

A checkpoint is any nest of dicts, lists and tuples whose leaves are tensors,
arrays, numbers, strings, bools or None, e.g.::

    {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3, "rng": ck.get_rng_state()}

File layout: the arrays go into the safetensors tensor table under their path
in the nest (``model/conv1.weight``; keys are escaped so that any string key
works); everything else, with a placeholder for each array, is one JSON
document in the safetensors metadata under the key ``cnnkit``. Loading
rebuilds the same nest with ``Tensor`` leaves.

Files are untrusted: the header is parsed and checked before the tensors are
read, nothing is ever executed, and a corrupt or truncated file raises
``CheckpointError`` (a ``ValueError``) naming it. Writes are atomic: a temporary
file in the same folder is flushed, synced and renamed over the target, so an
interrupted save never leaves a half-written checkpoint behind.

Integrity: ``save`` records the SHA-256 of every tensor's bytes in the metadata (``sha256``: path → hex
digest) and ``load`` checks them by default, so a flipped bit in tensor data, which the safetensors format
itself cannot notice, raises ``CheckpointError`` naming the tensor. ``load(path, verify=False)`` skips the
check (hashing reads every byte once: about a second per GB). Checkpoints written before the hashes were
recorded (no ``sha256`` entry) load as before, unverified and without a warning; saving them again adds the
hashes.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from ..device import check_device
from ..tensor import Tensor
from .atomic import atomic_output

FORMAT = "cnnkit-checkpoint"
VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"
_DTYPES = {np.dtype(t) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                                 "uint8", "bool")}


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, truncated or not a cnnkit checkpoint."""


def _escape(key: str) -> str:
    return key.replace("%", "%25").replace("/", "%2F")


def _encode(obj, path: str, arrays: dict):
    """The JSON-able skeleton of ``obj``; arrays are moved into ``arrays`` under their path."""
    if isinstance(obj, Tensor):
        obj = obj._data
    if isinstance(obj, np.ndarray):
        if obj.dtype not in _DTYPES:
            raise TypeError(f"save: cannot store an array of dtype {obj.dtype} at '{path or '/'}'")
        # safetensors 0.8.0 silently corrupts non-contiguous arrays: always hand it a contiguous copy/view
        arrays[path] = obj if obj.flags.c_contiguous else obj.copy(order="C")
        return {_TENSOR: path}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        if not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") and k.endswith("__") for k in obj):
            return {k: _encode(v, f"{path}/{_escape(k)}", arrays) for k, v in obj.items()}
        items = []
        for i, (k, v) in enumerate(obj.items()):
            if not isinstance(k, (str, int, bool)) and k is not None:
                raise TypeError(f"save: dict key {k!r} at '{path or '/'}' must be a str or int")
            items.append([k, _encode(v, f"{path}/{i}", arrays)])
        return {_DICT: items}
    if isinstance(obj, (list, tuple)):
        body = [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(obj)]
        return {_TUPLE: body} if isinstance(obj, tuple) else body
    raise TypeError(f"save: cannot store a {type(obj).__name__} at '{path or '/'}' "
                    f"(tensors, arrays, numbers, strings, None, dicts, lists and tuples only)")


def save(obj, path) -> None:
    """Write ``obj`` (a tensor, a state dict, or a nest of them with plain values) to ``path`` atomically."""
    from safetensors.numpy import save as st_save

    path = Path(path)
    arrays: dict = {}
    skeleton = _encode(obj, "", arrays)
    digests = {k: hashlib.sha256(v.reshape(-1).view(np.uint8)).hexdigest() for k, v in arrays.items()}
    meta = json.dumps({"format": FORMAT, "version": VERSION, "object": skeleton, "sha256": digests},
                      allow_nan=False)
    payload = st_save({("t" + k): v for k, v in arrays.items()}, metadata={"cnnkit": meta})
    with atomic_output(path) as f:
        f.write(payload)


def _read_header(data: bytes, name: str) -> dict:
    if len(data) < 8:
        raise CheckpointError(f"load: {name} is not a checkpoint: {len(data)} bytes is too short for a header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise CheckpointError(f"load: {name} is truncated or corrupt: its header claims {n} bytes, "
                              f"the file has {len(data) - 8} after the length field")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"load: {name} has a corrupt header (nested too deeply)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"load: {name} has a corrupt header ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"load: {name} has a corrupt header (not a JSON object)")
    body = len(data) - 8 - n
    for key, info in header.items():
        if key == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= body):
            raise CheckpointError(f"load: {name} is truncated or corrupt: tensor '{key[1:]}' lies outside the file")
    return header


def _decode(node, arrays: dict, name: str):
    if isinstance(node, list):
        return [_decode(v, arrays, name) for v in node]
    if isinstance(node, dict):
        if set(node) == {_TENSOR}:
            key = node[_TENSOR]
            if not isinstance(key, str) or key not in arrays:
                raise CheckpointError(f"load: {name} is corrupt: tensor '{key}' is referenced but not stored")
            return Tensor._wrap(arrays[key])
        if set(node) == {_TUPLE} and isinstance(node[_TUPLE], list):
            return tuple(_decode(v, arrays, name) for v in node[_TUPLE])
        if set(node) == {_DICT} and isinstance(node[_DICT], list):
            out = {}
            for item in node[_DICT]:
                if not (isinstance(item, list) and len(item) == 2):
                    raise CheckpointError(f"load: {name} is corrupt: a dict entry is not a [key, value] pair")
                if not (item[0] is None or isinstance(item[0], (str, int, bool))):
                    raise CheckpointError(f"load: {name} is corrupt: a dict key is a {type(item[0]).__name__}")
                out[item[0]] = _decode(item[1], arrays, name)
            return out
        if set(node) == {"__float__"} and node["__float__"] in ("inf", "-inf", "nan"):
            return float(node["__float__"])
        return {k: _decode(v, arrays, name) for k, v in node.items()}
    return node


def _verify(data: bytes, header: dict, digests, name: str) -> None:
    """Check every stored tensor's bytes against the SHA-256 recorded at save time."""
    if not isinstance(digests, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in
                                                digests.items()):
        raise CheckpointError(f"load: {name} is corrupt: its table of SHA-256 digests is malformed")
    start = 8 + struct.unpack("<Q", data[:8])[0]
    stored = {key[1:] for key in header if key != "__metadata__"}
    if stored != set(digests):
        odd = sorted(stored ^ set(digests))[0]
        raise CheckpointError(f"load: {name} is corrupt: tensor '{odd}' is stored without a recorded SHA-256 "
                              f"or recorded without being stored")
    view = memoryview(data)
    for key, info in header.items():
        if key == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        digest = hashlib.sha256(view[start + lo:start + hi]).hexdigest()
        if digest != digests[key[1:]]:
            raise CheckpointError(f"load: {name} is corrupt: the bytes of tensor '{key[1:]}' do not match the "
                                  f"SHA-256 recorded when it was saved (the file changed after it was written; "
                                  f"load(..., verify=False) reads it anyway)")


def load(path, map_location=None, *, weights_only=None, mmap=None, verify: bool = True):
    """Read a checkpoint written by :func:`save`; tensors come back as ``Tensor`` (dtype and shape kept).

    ``verify`` (default True): check each tensor against the SHA-256 recorded by ``save`` and raise
    ``CheckpointError`` naming the first tensor that differs. Checkpoints without recorded digests (written
    before cnnkit recorded them) are read unverified.

    PyTorch's keywords are accepted: ``map_location`` may name the CPU (any other device raises
    ``RuntimeError``: cnnkit runs on the CPU only); ``weights_only`` and ``mmap`` change nothing (a cnnkit
    checkpoint holds only tensors and plain values, and is never unpickled).
    """
    if not isinstance(verify, bool):
        raise TypeError(f"load: verify must be a bool, got {verify!r}")
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        check_device(map_location, "load")
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"load: no checkpoint at {name}") from None
    except IsADirectoryError:
        raise CheckpointError(f"load: {name} is a directory, not a checkpoint") from None
    header = _read_header(data, name)
    meta = header.get("__metadata__") or {}
    try:
        doc = json.loads(meta["cnnkit"])
    except RecursionError:
        raise CheckpointError(f"load: {name} has corrupt cnnkit metadata (nested too deeply)") from None
    except (KeyError, TypeError, json.JSONDecodeError):
        raise CheckpointError(f"load: {name} is a safetensors file but not a cnnkit checkpoint "
                              f"(no 'cnnkit' metadata); read plain safetensors with safetensors.numpy") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"load: {name} is not a cnnkit checkpoint")
    if doc.get("version") != VERSION:
        raise CheckpointError(f"load: {name} has checkpoint version {doc.get('version')}, this cnnkit reads "
                              f"version {VERSION}")
    if verify and "sha256" in doc:
        _verify(data, header, doc["sha256"], name)
    try:
        stored = st_load(data)
    except SafetensorError as e:
        raise CheckpointError(f"load: {name} is corrupt: {e}") from None
    arrays = {k[1:]: v for k, v in stored.items()}
    try:
        return _decode(doc.get("object"), arrays, name)
    except RecursionError:
        raise CheckpointError(f"load: {name} has corrupt cnnkit metadata (nested too deeply)") from None


def load_value(path, key: str):
    """The plain value (a number, string, bool or None) stored under ``key`` at the top of the checkpoint
    ``path``, read from the file's header alone (the tensors are not read): e.g. ``load_value(p, "epoch")``.
    Raises ``CheckpointError`` if the file is no checkpoint or ``key`` holds no plain value there."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if not 0 < n <= _MAX_HEADER:
                raise CheckpointError(f"load_value: {path} is not a checkpoint (no safetensors header)")
            text = f.read(n)
    except FileNotFoundError:
        raise CheckpointError(f"load_value: no checkpoint at {path}") from None
    try:
        doc = json.loads(json.loads(text.decode("utf-8"))["__metadata__"]["cnnkit"])
        value = doc["object"][key]
    except (KeyError, TypeError, ValueError, RecursionError, UnicodeDecodeError):
        raise CheckpointError(f"load_value: {path} has no entry '{key}'") from None
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise CheckpointError(f"load_value: {path}: '{key}' is not a plain value")
    return value
