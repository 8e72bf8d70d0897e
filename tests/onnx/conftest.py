"""The ONNX tests need the optional packages; the large models are marked ``slow`` and run only when
asked for (``-m slow``, or CNNKIT_SLOW_TESTS=1 for everything)."""
import os

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a large model (minutes); run with -m slow or CNNKIT_SLOW_TESTS=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CNNKIT_SLOW_TESTS") or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="large model: run with -m slow or CNNKIT_SLOW_TESTS=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
