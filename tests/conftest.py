"""Shared fixtures: the shipped models and seeded random points inside their bounds."""

from __future__ import annotations

import pytest

import twin
from twin.core.model import Model

MODEL_NAMES = twin.model_names()


@pytest.fixture(params=MODEL_NAMES)
def model(request) -> Model:
    """Each shipped model with its default parameters."""
    return twin.load_model(request.param)


def pytest_configure(config):
    """Compiled model binaries of the test run go to a temporary cache, not the user's."""
    import os
    import tempfile

    if "TWIN_CACHE_DIR" not in os.environ:
        os.environ["TWIN_CACHE_DIR"] = tempfile.mkdtemp(prefix="twin-test-cache-")
