"""Running step tests on a plant (the twin, an FMU, OPC UA): configuration, runner, exports, report.

The signals and designs are :mod:`apc.steptest`; :func:`run_step_test`
runs a :class:`StepTestSpec` (read by :func:`load_steptest`).
"""

from twin.orchestration.steptest.config import StepTestSpec, load_steptest, spec_from_dict
from twin.orchestration.steptest.runner import StepTestResult, run_step_test

__all__ = ["StepTestResult", "StepTestSpec", "load_steptest", "run_step_test", "spec_from_dict"]
