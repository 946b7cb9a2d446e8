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
