"""Values with units for an FMU: converted to the unit the FMU declares for the variable."""

from __future__ import annotations

import pandas as pd

from support import run_twin, the_error_line


def test_fmu_values_with_units_are_converted_to_its_declared_units(exported, tmp_path, capsys):
    fmu = str(exported("cstr"))
    common = ["--t-end", "0.02", "--dt", "0.01", "--no-isolate"]
    runs = {"units": ["--u", "F=0.2365/min", "--u", "Q_dot=-0.3093kW", "--x0", "T_R=407.29K"],
            "plain": ["--u", "F=14.19", "--u", "Q_dot=-1113.48", "--x0", "T_R=134.14"]}
    for name, values in runs.items():
        code, _, err = run_twin(capsys, "simulate", fmu, *common, *values,
                                "--out", str(tmp_path / f"{name}.csv"))
        assert code == 0, err
    units, plain = (pd.read_csv(tmp_path / f"{n}.csv") for n in ("units", "plain"))
    assert units["F"].iloc[0] == 14.19 and abs(units["Q_dot"].iloc[0] + 1113.48) < 1e-9
    assert (units - plain).abs().max().max() < 1e-9


def test_an_fmu_value_in_an_incompatible_unit_is_one_line(exported, tmp_path, capsys):
    code, _, err = run_twin(capsys, "simulate", str(exported("cstr")), "--t-end", "0.01",
                            "--dt", "0.01", "--u", "F=3degC", "--out", str(tmp_path / "r.csv"))
    assert code == 2
    assert the_error_line(err) == ("twin: error: --u F: '3degC' cannot be converted to the "
                                   "declared unit 1/h ([temperature] is not 1 / [time])")
