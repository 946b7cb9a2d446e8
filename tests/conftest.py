"""Shared fixtures: the shipped models and seeded random points inside their bounds."""

from __future__ import annotations

import pytest

import plant_models
import twin
from twin.core.model import Model

MODEL_NAMES = plant_models.NAMES
"""The unit-scale models of the generic battery (the plant-wide ones have their own tests)."""


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


LONG_FILES = ("tests/test_readme.py", "tests/deployment/test_faults.py",
              "tests/control/test_offset_free.py", "tests/deployment/test_deployed_loop.py",
              "tests/deployment/test_bad_values.py", "tests/cli/test_cli.py",
              "tests/console/test_browser.py", "tests/deployment/test_console_deploy.py")
"""Files whose tests take minutes in one process, longest first: run first, so that with
``pytest -n N --dist loadfile`` the shorter files fill the other processes around them
instead of one long file running alone at the end."""


def pytest_collection_modifyitems(session, config, items):
    """The tests of :data:`LONG_FILES` first, in that order; the rest as collected."""
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(LONG_FILES)))
