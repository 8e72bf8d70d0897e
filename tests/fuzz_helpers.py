"""Mutated files for the reader fuzzers: hypothesis strategies that damage a valid seed file.

A mutation is a short list of edits, each one of: flip one bit, overwrite a byte, truncate, insert bytes,
delete a span, or overwrite a span with random bytes; positions are drawn inside the file, so the
mutations hit headers, lengths and data alike. ``FUZZ`` are the shared settings: a bounded number of
examples (CI stays fast), and a deadline that catches a hang.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=150, deadline=5000, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def mutated(draw, seed: bytes, max_edits: int = 4) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_edits))):
        kind = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "span"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[pos] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 16))]
        elif kind == "span" and data:
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos:pos + len(chunk)] = chunk
    return bytes(data)


def files(seed: bytes):
    """A mutated seed, or (now and then) bytes with no relation to it."""
    return st.one_of(mutated(seed), mutated(seed), mutated(seed), st.binary(max_size=64))
