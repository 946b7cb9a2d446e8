"""Study files are checked on load; every mistake is one line naming the key."""

from __future__ import annotations

import pytest

from support import run_twin

BASE = """
duration = 1.0
[base]
kind = "open_loop"
model = "cstr"
dt = 0.01
[[variable]]
name = "beta"
low = 0.9
high = 1.1
[sampling]
method = "lhs"
n = 10
[[kpi]]
name = "c"
variable = "C_b"
"""


@pytest.mark.parametrize("edit,message", [
    (("[sampling]", "[sampling]\nmethods = 1"), "unknown key 'methods'"),
    (('kind = "open_loop"', 'kind = "openloop"'), "base.kind"),
    (('method = "lhs"\nn = 10', 'method = "sobol"\nn = 10'), "power of two"),
    (('low = 0.9\n', ''), "give both low and high"),
    (('name = "c"\nvariable = "C_b"', 'name = "c"\nkind = "expression"\n'
      'expression = "__import__(\'os\')"'), "only the functions"),
    (('name = "c"\nvariable = "C_b"', 'name = "c"\nvariable = "C_x"'), "C_x"),
    (('name = "beta"', 'name = "betta"'), "betta"),
])
def test_mistakes_are_one_line_errors(tmp_path, capsys, edit, message):
    path = tmp_path / "study.toml"
    path.write_text(BASE.replace(*edit))
    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "out"))
    lines = [line for line in err.splitlines() if line.startswith("twin: error:")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
