"""Fixtures of the control tests."""

from __future__ import annotations

import pytest

from apc.spec import load_spec
from loop_support import DOMPC_SPEC, replace
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop


@pytest.fixture
def cstr_loop():
    """The shipped CSTR loop, shortened, without events."""
    config = load_loop(example("cstr_apc.toml"))
    return replace(config, run=replace(config.run, duration=0.15), event=())


@pytest.fixture
def dompc_spec():
    return load_spec(DOMPC_SPEC)
