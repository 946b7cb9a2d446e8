"""``--resume`` refuses a folder whose study changed through a file the study uses.

The study file's own changes are covered in test_resume.py; here each file the
study refers to changes between an interrupted run and its resumption: the
function module, the model module, the FMU, the loop file and the economics
of the loop's RTO. Each test first resumes without the change (so the
refusal comes from the change, not from the folder), then with it.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from twin.core.errors import InputError
from twin.orchestration.whatif.run import run_study
from twin.orchestration.whatif.study import load_study

REFUSED = "holds a run of a different study"


def _interrupt(out: Path, scenario: int = 1) -> None:
    """Remove one finished part, as if the run had been killed before writing it."""
    (out / "parts" / f"part-{scenario:09d}.parquet").unlink()


def _resume(path: Path, out: Path):
    return run_study(load_study(path), out, resume=True, chunk_size=1, report=False)


def _fresh_import(monkeypatch, name: str) -> None:
    """Forget an imported module: the next run imports the file anew, as a new process would."""
    monkeypatch.delitem(sys.modules, name, raising=False)


def _finish_unchanged_then_refuse_the_change(path: Path, out: Path, change) -> pd.DataFrame:
    """Interrupt and resume unchanged (must finish), interrupt again, change, resume (refused)."""
    first = pd.read_parquet(out / "summary.parquet")
    _interrupt(out)
    again = _resume(path, out)
    assert again.resumed == len(first) - 1 and again.failed == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), first,
                                  check_exact=True)
    _interrupt(out)
    change()
    with pytest.raises(InputError, match=REFUSED):
        _resume(path, out)
    assert not (out / "parts" / "part-000000001.parquet").exists()  # nothing was run into it
    return first


FUNCTION_MODULE = '''
def response(x):
    return {"y": 2.0 * x}
'''


def test_a_changed_function_module_is_refused(write_study, tmp_path, monkeypatch):
    module = tmp_path / "fp_response.py"
    module.write_text(FUNCTION_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_import(monkeypatch, "fp_response")
    path = write_study("""
[base]
kind = "function"
function = "fp_response:response"
[[variable]]
name = "x"
[sampling]
method = "list"
scenarios = [ { x = 1.0 }, { x = 2.0 }, { x = 3.0 } ]
""")
    out = tmp_path / "out"
    first = run_study(load_study(path), out, chunk_size=1, report=False)
    assert first.scenarios == 3 and first.failed == 0

    def change():
        module.write_text(FUNCTION_MODULE.replace("2.0 * x", "3.0 * x"))
        _fresh_import(monkeypatch, "fp_response")

    summary = _finish_unchanged_then_refuse_the_change(path, out, change)
    assert summary.y.tolist() == [2.0, 4.0, 6.0]


MODEL_MODULE = '''
from twin.core.model import Model
from twin.core.variables import manipulated, parameter, state

MODEL = Model(name="fp_tank", title="tank", source="test", time_unit="s",
              states=[state("h", "m", "level", 1.0, 0.0, 100.0)],
              inputs=[manipulated("q", "m/s", "inflow", 0.1, 0.0, 1.0)],
              parameters=[parameter("k", "1/s", "outflow", 0.1)],
              rhs=lambda x, u, p, ops: {"h": u.q - p.k * x.h})
'''


def test_a_changed_model_module_is_refused(write_study, tmp_path, monkeypatch):
    module = tmp_path / "fp_tank.py"
    module.write_text(MODEL_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_import(monkeypatch, "fp_tank")
    path = write_study("""
duration = 1.0
[base]
kind = "open_loop"
model = "fp_tank:MODEL"
dt = 0.5
steady_start = false
[[variable]]
name = "k"
[sampling]
method = "list"
scenarios = [ { k = 0.1 }, { k = 0.2 }, { k = 0.3 } ]
[[kpi]]
name = "h_end"
variable = "h"
""")
    out = tmp_path / "out"
    first = run_study(load_study(path), out, chunk_size=1, report=False)
    assert first.scenarios == 3 and first.failed == 0

    def change():  # the outflow of a real valve: square root of the level
        module.write_text(MODEL_MODULE.replace("p.k * x.h", "p.k * x.h ** 0.5")
                          .replace('"1/s", "outflow"', '"m**0.5/s", "outflow"'))
        _fresh_import(monkeypatch, "fp_tank")

    summary = _finish_unchanged_then_refuse_the_change(path, out, change)
    # h(1) = q/k + (h0 - q/k) exp(-k), the linear tank's closed form
    import math

    expected = [1.0 + (1.0 - 1.0) * math.exp(-0.1)] + [
        0.1 / k + (1.0 - 0.1 / k) * math.exp(-k) for k in (0.2, 0.3)]
    assert summary.h_end.tolist() == pytest.approx(expected, rel=1e-6)


def test_a_changed_fmu_is_refused(write_study, tmp_path):
    from twin.orchestration.registry import load_model
    from twin_fmus.export import export_fmu

    fmu = tmp_path / "cstr.fmu"
    export_fmu(load_model("cstr"), fmu)
    path = write_study(f"""
duration = 0.02
[base]
kind = "open_loop"
model = "{fmu}"
dt = 0.01
u = {{ F = 14.19, Q_dot = -1113.5 }}
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ {{ beta = 0.9 }}, {{ beta = 1.0 }}, {{ beta = 1.1 }} ]
[[kpi]]
name = "C_b_final"
variable = "C_b"
""")
    out = tmp_path / "out"
    first = run_study(load_study(path), out, chunk_size=1, report=False)
    assert first.scenarios == 3 and first.failed == 0

    def change():  # the same model exported with another feed temperature
        export_fmu(load_model("cstr").with_parameters({"T_in": 104.9}), fmu)

    _finish_unchanged_then_refuse_the_change(path, out, change)


LOOP_STUDY = """
duration = 0.01
[base]
kind = "closed_loop"
loop_file = "loop.toml"
loop_events = false
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ { beta = 0.97 }, { beta = 1.03 } ]
[[kpi]]
name = "C_b_mean"
kind = "mean"
variable = "C_b"
"""


@pytest.fixture
def loop_study(write_study, tmp_path):
    """A finished closed-loop study under RTO and APC, its loop file and RTO economics file."""
    from importlib import resources

    from rto.economics import shipped_economics

    economics = tmp_path / "economics.toml"
    economics.write_text(shipped_economics("cstr").read_text())
    example = resources.files("twin.orchestration.examples") / "cstr_rto_apc.toml"
    loop = write_study(example.read_text().replace('economics = "cstr"',
                                                   f'economics = "{economics}"'), "loop.toml")
    path = write_study(LOOP_STUDY)
    out = tmp_path / "out"
    first = run_study(load_study(path), out, chunk_size=1, report=False)
    assert first.scenarios == 2 and first.failed == 0
    return path, out, loop, economics


def test_a_changed_loop_file_is_refused_and_a_comment_is_no_change(loop_study):
    path, out, loop, _ = loop_study
    text = loop.read_text()
    loop.write_text("# a comment changes no result\n" + text)

    def change():  # the T_R tracking weight of the APC
        loop.write_text(text.replace("weight = 0.001", "weight = 0.002"))

    _finish_unchanged_then_refuse_the_change(path, out, change)


def test_changed_economics_of_the_loops_rto_are_refused(loop_study):
    path, out, _, economics = loop_study

    def change():  # the price of the product
        economics.write_text(economics.read_text().replace("p_B = 1.0", "p_B = 1.5"))

    _finish_unchanged_then_refuse_the_change(path, out, change)


def test_a_changed_nominal_value_of_a_model_changes_the_fingerprint(write_study, tmp_path,
                                                                     monkeypatch):
    """Not only the equations: the model's nominal inputs feed every scenario too."""
    from twin.orchestration.whatif.scenarios import digest, prepare

    module = tmp_path / "fp_tank2.py"
    module.write_text(MODEL_MODULE.replace('name="fp_tank"', 'name="fp_tank2"'))
    monkeypatch.syspath_prepend(str(tmp_path))
    _fresh_import(monkeypatch, "fp_tank2")
    path = write_study(textwrap.dedent("""
        duration = 1.0
        [base]
        kind = "open_loop"
        model = "fp_tank2:MODEL"
        dt = 0.5
        steady_start = false
        [[variable]]
        name = "k"
        low = 0.1
        high = 0.2
        [sampling]
        method = "lhs"
        n = 2
        [[kpi]]
        name = "h_end"
        variable = "h"
    """))
    study = load_study(path)
    prepare(study)
    before = study.fingerprint(digest(study))
    module.write_text(module.read_text().replace('"inflow", 0.1', '"inflow", 0.2'))
    _fresh_import(monkeypatch, "fp_tank2")
    prepare(study)
    assert study.fingerprint(digest(study)) != before  # a new nominal inflow changes results
