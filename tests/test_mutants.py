"""A fixed sample of mutants of the safety-critical code, each of which the tests must kill.

The full mutation campaigns (``python tools/mutation.py``, see README.md)
take too long for every run; these mutants, small bugs of the kind that
matter, run every time. Each is applied to a copy of its package in a
temporary folder that comes first on the import path, and the tests named
with it must then fail (exit status 1: failures, not errors).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


@dataclass(frozen=True)
class Mutant:
    """``original`` replaced by ``mutated`` (exactly once) in ``module``; ``tests`` must fail."""

    name: str
    module: str
    original: str
    mutated: str
    tests: tuple[str, ...]


SAMPLE = [
    Mutant("analyser delay read from the newest stage", "apc.estimation",
           "value = chain[m - 1]", "value = chain[0]",
           ("control/test_estimator_values.py::"
            "test_an_analyser_three_intervals_late_reads_the_level_of_three_intervals_before",)),
    Mutant("hard CV limits left out of the targets", "apc.targets",
           "hlo_n = np.where(active & np.isfinite(hard_lo), hard_lo / mag, -np.inf)\n"
           "        hhi_n = np.where(active & np.isfinite(hard_hi), hard_hi / mag, np.inf)",
           "hlo_n = np.full(n_cv, -np.inf)\n        hhi_n = np.full(n_cv, np.inf)",
           ("control/test_targets_hand.py::test_an_active_hard_limit_moves_the_target_onto_it",)),
    Mutant("uncertain readings never accepted", "apc.estimation",
           "return reading.quality is Quality.UNCERTAIN and spec_meas.accept_uncertain",
           "return False",
           ("control/test_estimator_values.py::"
            "test_accept_uncertain_decides_whether_an_uncertain_reading_moves_the_estimate",)),
    Mutant("soft limits set at run time left out of the targets", "apc.targets",
           "if a and (np.isfinite(lo) or np.isfinite(hi))",
           "if a and (c.low is not None or c.high is not None)",
           ("control/test_targets_cases.py::"
            "test_a_soft_limit_set_at_run_time_is_kept_like_one_of_the_specification",)),
    Mutant("a measurement bias taken off the CVs instead of added", "apc.targets",
           "cv = pb.cv(X, Uv + u_off, w, p) + (", "cv = pb.cv(X, Uv + u_off, w, p) - (",
           ("control/test_targets_cases.py::"
            "test_a_measurement_bias_moves_the_model_state_not_the_measured_target",)),
    Mutant("bias states left out of the predicted readings", "apc.estimation",
           "value = value + d[self.bias_of[self.names[j]]]", "value = value",
           ("control/test_estimator_parts.py::"
            "test_the_augmented_model_moves_the_lag_and_shifts_the_delay_chains",)),
    Mutant("moves not held to the rate limits", "apc.controller",
           "clamped = np.clip(u, lo, hi)", "clamped = np.clip(u, self.u_lo, self.u_hi)",
           ("control/test_controller_cycle.py::test_moves_are_clamped_to_the_hard_and_rate_limits",)),
    Mutant("a bad critical CV does not shed", "apc.controller",
           "                    shed = True\n", "                    shed = False\n",
           ("control/test_controller_cycle.py::"
            "test_a_bad_critical_cv_sheds_the_controller_holding_the_mvs",)),
    Mutant("WARM writes its moves", "apc.controller",
           "write = self.mode is Mode.ON and", "write = self.mode is not Mode.OFF and",
           ("control/test_controller_cycle.py::"
            "test_warm_computes_from_the_plant_mvs_and_writes_nothing",)),
    Mutant("a non-finite value passes the quality gate", "twin.orchestration.opcua.gateway",
           "    if not math.isfinite(value):\n", "    if False:\n",
           ("deployment/test_quality_gate.py",)),
    Mutant("a Bad status passes the quality gate", "twin.orchestration.opcua.gateway",
           "    if quality is Quality.BAD:\n        return Sample(math.nan",
           "    if False:\n        return Sample(math.nan", ("deployment/test_quality_gate.py",)),
    # the deployed loop and its cycle guard
    Mutant("a setpoint written to a base loop not in CASCADE", "twin.orchestration.opcua.deploy",
           'if snap.modes.get(n) == "CASCADE"}', "}",
           ("deployment/test_loop_decide.py::"
            "test_setpoints_go_only_to_loops_in_cascade_and_nothing_when_the_controller_holds",)),
    Mutant("a stale reading is used as good", "twin.orchestration.opcua.cycle",
           "if age > stale_after:", "if False:",
           ("deployment/test_loop_health.py::"
            "test_readings_carry_the_value_quality_and_server_time_and_stale_ones_are_bad",)),
    Mutant("the loop re-enters after an operator shed without the operator",
           "twin.orchestration.opcua.deploy",
           "armed = not self.needs_operator or self.seen_out_of_cascade", "armed = True",
           ("deployment/test_loop_health.py::"
            "test_after_an_operator_shed_the_loop_waits_for_the_operator_to_hand_the_loops_back",)),
    Mutant("setpoint moves not rate-limited", "twin.orchestration.opcua.cycle",
           "limited = np.isfinite(max_move)", "limited = np.zeros(max_move.shape, bool)",
           ("deployment/test_loop_commit.py::"
            "test_moves_are_clamped_to_hard_limits_then_rate_limits_then_hard_limits_again",)),
    Mutant("an exception in a stage is swallowed", "twin.orchestration.opcua.cycle",
           "raise StageFailed(name, exc) from exc", "pass",
           ("deployment/test_loop_commit.py::"
            "test_a_stage_failure_names_the_stage_and_the_cause_in_one_line",)),
    # the cycle store
    Mutant("the cycle store does not wait for the disk", "twin.orchestration.loop.store",
           'self.db.execute("PRAGMA synchronous=FULL")',
           'self.db.execute("PRAGMA synchronous=OFF")',
           ("orchestration/test_store_unit.py::"
            "test_a_new_store_is_crash_safe_and_has_its_six_tables",)),
    Mutant("a cycle is written but not committed", "twin.orchestration.loop.store",
           'with _writing(self.path, f"recording cycle {cycle}"), self.db:',
           'with _writing(self.path, f"recording cycle {cycle}"):',
           ("orchestration/test_store_unit.py::"
            "test_log_cycle_writes_the_cycle_its_values_and_events_and_commits",)),
    Mutant("the quality of a cycle without values is lost", "twin.orchestration.loop.store",
           'wide = wide.join(q, how="outer")', "wide = wide.join(q)",
           ("orchestration/test_store_unit.py::"
            "test_a_reading_without_a_value_keeps_its_quality_in_the_frame",)),
    # resuming a what-if study
    Mutant("an edited part is reused", "twin.orchestration.whatif.parts",
           'if _sha256(path) != manifest["sha256"]:', "if False:",
           ("whatif/test_parts_unit.py::test_a_part_that_fails_a_check_says_which",)),
    Mutant("a part of another study is reused", "twin.orchestration.whatif.parts",
           'if manifest["fingerprint"] != fingerprint:', "if False:",
           ("whatif/test_parts_unit.py::test_a_part_that_fails_a_check_says_which",)),
    Mutant("an earlier run is resumed without --resume", "twin.orchestration.whatif.parts",
           "if not resume:", "if False:",
           ("whatif/test_parts_unit.py::"
            "test_parts_are_resumed_only_with_resume_and_only_by_their_study",)),
    Mutant("the scenarios left are counted as resumed", "twin.orchestration.whatif.run",
           "resumed = len(table) - len(todo)", "resumed = len(todo)",
           ("whatif/test_run_resume.py::test_resume_runs_only_the_missing_scenarios",)),
    # the RTO schemes
    Mutant("a steady state with a gross error is acted on", "rto.schemes",
           "        if not ok:\n            it = RTOIteration(",
           "        if False:\n            it = RTOIteration(",
           ("optimisation/test_schemes_tank.py::"
            "test_a_steady_state_that_fails_the_consistency_check_is_logged_and_not_acted_on",)),
    Mutant("a probe with a gross error is used as a plant gradient", "rto.schemes",
           "if not ok:  # a gradient from bad data", "if False:  # a gradient from bad data",
           ("optimisation/test_schemes_tank.py::"
            "test_a_probe_that_fails_the_consistency_check_rejects_the_iteration",)),
    Mutant("the estimates of a failed estimation are acted on", "rto.schemes",
           "    if not ok:\n        return RTOIteration(",
           "    if False:\n        return RTOIteration(",
           ("optimisation/test_rto_failures.py::"
            "test_a_failed_estimation_is_logged_and_nothing_is_applied",)),
]


def _package_copy(module: str, to: Path) -> Path:
    """Copy the top-level package of ``module`` to ``to``; the copy of the module's file."""
    top = module.split(".")[0]
    package = Path(importlib.import_module(top).__file__).parent
    shutil.copytree(package, to / top, ignore=shutil.ignore_patterns("__pycache__"))
    return to / Path(*module.split(".")).with_suffix(".py")


def _run_mutant(mutant: Mutant, folder: Path) -> subprocess.CompletedProcess | str:
    """Run the mutant's tests on a mutated copy in ``folder``: the finished run, or what moved."""
    path = _package_copy(mutant.module, folder)
    text = path.read_text()
    if text.count(mutant.original) != 1:
        return f"the original text of '{mutant.name}' moved"
    path.write_text(text.replace(mutant.original, mutant.mutated))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(TESTS)]
                                                       + os.environ.get("PYTHONPATH", "").split(
                                                           os.pathsep)).rstrip(os.pathsep)}
    # hypothesis's pytest plugin costs ~1 s of imports per run; a test using hypothesis imports it
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           "-p", "no:hypothesispytest", *[str(TESTS / t) for t in mutant.tests]],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def mutant_runs(tmp_path_factory):
    """Every mutant's test run, started at once on as many workers as there are cores.

    Each run is its own process on its own copy, so they are independent;
    running them side by side only uses the machine's cores while the rest
    of the suite waits.
    """
    workers = max(1, min(len(SAMPLE), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = {m.name: pool.submit(_run_mutant, m, tmp_path_factory.mktemp("mutant"))
                for m in SAMPLE}
        yield runs
        for run in runs.values():
            run.cancel()


@pytest.mark.parametrize("mutant", SAMPLE, ids=[m.name for m in SAMPLE])
def test_the_tests_kill_this_mutant(mutant, mutant_runs):
    done = mutant_runs[mutant.name].result()
    assert not isinstance(done, str), done
    assert done.returncode == 1, f"mutant '{mutant.name}' survived:\n{done.stdout[-3000:]}"
