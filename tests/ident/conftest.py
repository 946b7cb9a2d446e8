"""Fixtures of the identification tests: FMUs exported once per session."""

from __future__ import annotations

import pytest

from twin.api import export_fmu


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """``exported(model_name)``: the exported FMU of a plant model (built on first use)."""
    folder = tmp_path_factory.mktemp("ident-fmus")
    built: dict[str, object] = {}

    def get(name: str):
        if name not in built:
            built[name] = export_fmu(name, folder / f"{name}.fmu")
        return built[name]

    return get
