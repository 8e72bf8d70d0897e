"""The message of a state dict that does not fit a module: short, whatever the size of the models.

A ResNet-50 checkpoint loaded into a VGG-11 has hundreds of missing and unexpected keys; listing them all gave
single lines of kilobytes. The message counts each kind of misfit and names the first few of each:

    load_state_dict for VGG: 22 missing key(s): 'features.0.weight', 'features.0.bias', ... (20 more);
    320 unexpected key(s): 'conv1.weight', 'bn1.weight', ... (318 more); size mismatch for 'fc.weight':
    expected shape (10, 512), found (1000, 512)

The names shown per kind shrink (3, 2, 1) until the message fits :data:`LIMIT` characters (or shows one name per
kind). ``strict=False`` returns the complete lists (``IncompatibleKeys``).
"""
from __future__ import annotations

LIMIT = 170


def _keys(keys: list, shown: int) -> str:
    more = f", ... ({len(keys) - shown} more)" if len(keys) > shown else ""
    return ", ".join(f"'{k}'" for k in keys[:shown]) + more


def _shapes(mismatched: list, shown: int) -> str:
    first = ", ".join(f"'{k}': expected shape {e}, found {f}" for k, e, f in mismatched[:shown])
    more = f" (and {len(mismatched) - shown} more)" if len(mismatched) > shown else ""
    return f"size mismatch for {first}{more}"


def mismatch_message(module_name: str, missing: list, unexpected: list, mismatched: list) -> str:
    """``load_state_dict for <module_name>: ...`` for the ``missing`` and ``unexpected`` keys and the
    ``mismatched`` shapes (a list of (key, expected shape, found shape))."""
    message = ""
    for shown in (3, 2, 1):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_keys(missing, shown)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_keys(unexpected, shown)}")
        if mismatched:
            parts.append(_shapes(mismatched, shown))
        message = f"load_state_dict for {module_name}: " + "; ".join(parts)
        if len(message) <= LIMIT:
            break
    return message
