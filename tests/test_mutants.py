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
           "cv = pb.cv(X, Uv, w, p) + (", "cv = pb.cv(X, Uv, w, p) - (",
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
]


def _package_copy(module: str, to: Path) -> Path:
    """Copy the top-level package of ``module`` to ``to``; the copy of the module's file."""
    top = module.split(".")[0]
    package = Path(importlib.import_module(top).__file__).parent
    shutil.copytree(package, to / top, ignore=shutil.ignore_patterns("__pycache__"))
    return to / Path(*module.split(".")).with_suffix(".py")


@pytest.mark.parametrize("mutant", SAMPLE, ids=[m.name for m in SAMPLE])
def test_the_tests_kill_this_mutant(mutant, tmp_path):
    path = _package_copy(mutant.module, tmp_path)
    text = path.read_text()
    assert text.count(mutant.original) == 1, f"the original text of '{mutant.name}' moved"
    path.write_text(text.replace(mutant.original, mutant.mutated))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TESTS)]
                                                       + os.environ.get("PYTHONPATH", "").split(
                                                           os.pathsep)).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           *[str(TESTS / t) for t in mutant.tests]],
                          cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, f"mutant '{mutant.name}' survived:\n{done.stdout[-3000:]}"
