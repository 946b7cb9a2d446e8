"""Study files are checked on load; every mistake is one line naming the key."""

from __future__ import annotations

import pytest

from whatif_support import CSTR_STUDY
from support import run_twin

BASE = CSTR_STUDY


@pytest.mark.parametrize("edit,message", [
    (("[sampling]", "[sampling]\nmethods = 1"), "unknown key 'methods'"),
    (('kind = "open_loop"', 'kind = "openloop"'), "base.kind"),
    (('method = "lhs"\nn = 10', 'method = "sobol"\nn = 10'), "power of two"),
    (('low = 0.9\n', ''), "give both low and high"),
    (('name = "c"\nvariable = "C_b"', 'name = "c"\nkind = "expression"\n'
      'expression = "__import__(\'os\')"'), "unknown function '__import__' of kpi 'c'"),
    (('name = "c"\nvariable = "C_b"', 'name = "c"\nvariable = "C_x"'), "C_x"),
    (('name = "beta"', 'name = "betta"'), "betta"),
    (('name = "c"', 'name = "beta"'), "kpi 'beta': the name is taken by a variable"),
    (('name = "c"', 'name = "status"'), "the name is taken by a summary column"),
    (('dt = 0.01', 'dt = 0.3'), "not a whole number of base.dt"),
    (('name = "c"\nvariable = "C_b"', 'name = "c"\nkind = "iae"\nvariable = "C_b"'),
     "iae needs a setpoint"),
    (('method = "lhs"\nn = 10', 'method = "grid"'), "a grid needs values"),
])
def test_mistakes_are_one_line_errors(tmp_path, capsys, edit, message):
    path = tmp_path / "study.toml"
    path.write_text(BASE.replace(*edit))
    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "out"))
    lines = [line for line in err.splitlines() if line.startswith("twin: error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_bad_options_and_functions_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "study.toml"
    path.write_text(BASE)
    for options, message in ((["--chunk-size", "0"], "--chunk-size must be at least 1"),
                             (["--scheduler", "notanaddress"], "cannot reach the Dask scheduler")):
        code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "o"),
                                *options)
        assert code == 2 and message in err.splitlines()[-1], err
    path.write_text(BASE.replace('kind = "open_loop"\nmodel = "cstr"\ndt = 0.01',
                                 'kind = "function"\nfunction = "ishigami"')
                    .replace("duration = 1.0", ""))
    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "f"))
    assert code == 2 and "does not take the study's variables (beta)" in err.splitlines()[-1]
