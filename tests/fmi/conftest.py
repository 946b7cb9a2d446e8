"""FMUs built once per test session: every plant model exported, and the foreign ones."""

from __future__ import annotations

import pytest

import plant_models
import twin
from fmu_builders import build_fmi3_cstr, build_pythonfmu_cstr, export_model


@pytest.fixture(scope="session")
def fmu_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fmus")


@pytest.fixture(scope="session")
def exported(fmu_dir):
    """``exported(model_name)``: the FMU of a plant model (built on first use)."""
    built: dict[str, object] = {}

    def get(name: str):
        if name not in built:
            built[name] = export_model(name, fmu_dir)
        return built[name]

    return get


@pytest.fixture(params=plant_models.NAMES)
def model_fmu(request, exported):
    """(model, its exported FMU) for every unit-scale plant model (the Tennessee Eastman
    export is checked in ``tests/models/test_tennessee_eastman.py``)."""
    return twin.load_model(request.param), exported(request.param)


@pytest.fixture(scope="session")
def pythonfmu_cstr(fmu_dir):
    return build_pythonfmu_cstr(fmu_dir)


@pytest.fixture(scope="session")
def fmi3_cstr(fmu_dir):
    return build_fmi3_cstr(fmu_dir)


@pytest.fixture(scope="session")
def fmi3_cstr_events(fmu_dir):
    return build_fmi3_cstr(fmu_dir, event_indicator=True)
