"""Calibration of first-principles models from plant data (grey-box parameter estimation).

:func:`~twin.core.calibration.shooting.calibrate` estimates chosen
parameters (and initial states) of a :class:`~twin.core.model.Model` from
time series by multiple shooting in CasADi with IPOPT;
:mod:`~twin.core.calibration.statistics` gives their covariance, 95 %
intervals, correlations and identifiability warnings. See docs/calibration.md.
"""

from twin.core.calibration.dataset import CalibrationData
from twin.core.calibration.shooting import Calibration, calibrate

__all__ = ["Calibration", "CalibrationData", "calibrate"]
