"""`twin bench` without the test extra, and with a figure that fails: nothing is lost."""

from __future__ import annotations

import json

import pytest

from support import run_twin
from twin_benchmarks import harness


def test_optional_module_skips_only_a_package_that_is_really_missing(tmp_path, monkeypatch):
    ctx = harness.BenchContext(quick=True)
    assert ctx.optional_module("twin_no_such_package_xyz.sub", "nothing") is None
    assert ctx.skipped == {"nothing": "skipped: install the package that provides "
                                      "'twin_no_such_package_xyz' (pip install twin_no_such_package_xyz)"}
    assert harness.install_hint("pyomo_ripopt") == ("pyomo-ripopt (in the test extra: "
                                                     "pip install -c constraints.txt '.[test]')")
    assert ctx.optional_module("json", "stdlib") is json and "stdlib" not in ctx.skipped
    # an installed module whose own import is broken is an error, not a skip
    (tmp_path / "twin_broken_baseline.py").write_text("import twin_missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="twin_missing_dependency_xyz"):
        ctx.optional_module("twin_broken_baseline", "broken")


def _register(monkeypatch, name: str, error: Exception) -> None:
    def fails(ctx):
        raise error
    harness.load_figures()
    monkeypatch.setitem(harness.REGISTRY, name, harness.Benchmark(name, "forced to fail", 1.0, fails))


def test_missing_baseline_and_failing_figures_keep_the_others_in_the_file(capsys, tmp_path, monkeypatch):
    """As after the plain install: no pyomo_ripopt; plus a figure that raises and one that needs an extra."""
    from twin_benchmarks import rto

    monkeypatch.setattr(rto, "RIPOPT_MODULE", "pyomo_ripopt_not_installed")
    _register(monkeypatch, "forced_failure", ZeroDivisionError("forced\nfor the test"))
    _register(monkeypatch, "needs_extra", ModuleNotFoundError("No module named 'pythonfmu'", name="pythonfmu"))
    out = tmp_path / "b.json"
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "forced_failure",
                                 "--only", "rto_resolve_wo", "--only", "needs_extra", "--out", str(out),
                                 "--json")
    assert code == 1
    report = json.loads(out.read_text())
    assert json.loads(stdout) == report  # --json prints exactly the file
    figures = report["figures"]
    fig = figures["rto_resolve_wo"]  # our figure measured, its baseline skipped
    assert fig["status"] == "ok" and fig["samples"] == 150 and 0 < fig["median"] < 1000
    assert fig["baselines"] == {} and fig["targets"]["speedup"]["met"] is None
    assert fig["skipped_baselines"]["pyomo_nl_file_ripopt"].startswith(
        "skipped: install the package that provides 'pyomo_ripopt_not_installed'")
    notes = [line for line in err.splitlines() if "skipped" in line]
    assert notes == ["bench: rto_resolve_wo: baseline pyomo_nl_file_ripopt skipped: install "
                     "the package that provides 'pyomo_ripopt_not_installed' "
                     "(pip install pyomo_ripopt_not_installed)",
                     "bench: needs_extra: skipped: needs 'pythonfmu': install pythonfmu "
                     "(in the test extra: pip install -c constraints.txt '.[test]')"]
    assert figures["forced_failure"] == {**figures["forced_failure"], "status": "failed",
                                         "error": "ZeroDivisionError: forced for the test"}
    assert figures["needs_extra"]["status"] == "skipped"
    assert "install pythonfmu (in the test extra" in figures["needs_extra"]["error"]
    assert report["failed"] == ["forced_failure"] and report["skipped"] == ["needs_extra"]
    errors = [line for line in err.splitlines() if line.startswith("twin: error:")]
    assert errors == ["twin: error: 1 of 3 benchmark figures failed (the others' results are kept): "
                      "forced_failure: ZeroDivisionError: forced for the test"]
    assert "Traceback" not in err


def test_terminal_lines_say_what_was_skipped(capsys, monkeypatch):
    _register(monkeypatch, "needs_extra", ModuleNotFoundError("No module named 'pythonfmu'", name="pythonfmu"))
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "needs_extra")
    assert code == 0, err
    assert stdout.splitlines() == ["needs_extra    SKIPPED: needs 'pythonfmu': install pythonfmu "
                                   "(in the test extra: pip install -c constraints.txt '.[test]')"]


def test_a_failing_figure_is_one_line_on_the_terminal(capsys, monkeypatch):
    _register(monkeypatch, "forced_failure", RuntimeError("solver diverged"))
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "forced_failure")
    assert code == 1
    assert stdout.splitlines() == ["forced_failure FAILED: RuntimeError: solver diverged"]
    assert err.count("twin: error:") == 1


def test_out_naming_a_folder_is_refused_before_anything_runs(capsys, tmp_path, monkeypatch):
    ran = []
    harness.load_figures()
    monkeypatch.setitem(harness.REGISTRY, "counted", harness.Benchmark(
        "counted", "records that it ran", 1.0, lambda ctx: ran.append(1)))
    code, _, err = run_twin(capsys, "bench", "--only", "counted", "--out", str(tmp_path))
    assert code == 2 and ran == []
    assert err == f"twin: error: --out {tmp_path}: is a folder; give the JSON file to write\n"


def test_ctrl_c_keeps_the_figures_finished_before_it(capsys, tmp_path, monkeypatch):
    harness.load_figures()
    monkeypatch.setitem(harness.REGISTRY, "quick_one", harness.Benchmark(
        "quick_one", "a real measurement", 1.0,
        lambda ctx: harness.FigureResult(harness.Samples(ctx.time_calls(lambda: sum(range(100)), 5), "ns"))))
    _register(monkeypatch, "interrupted_one", KeyboardInterrupt())
    _register(monkeypatch, "never_run", RuntimeError("must not run"))
    out = tmp_path / "b.json"
    code, _, err = run_twin(capsys, "bench", "--only", "quick_one", "--only", "interrupted_one",
                            "--only", "never_run", "--out", str(out))
    assert code == 130
    report = json.loads(out.read_text())
    assert list(report["figures"]) == ["quick_one"] and report["figures"]["quick_one"]["median"] > 0
    assert report["interrupted"] == "interrupted_one"
    assert "Traceback" not in err and err.count("twin: error:") == 1
    assert err.splitlines()[-1] == (f"twin: error: interrupted during interrupted_one; 1 figure finished "
                                    f"before it (kept in {out})")
