"""The Tennessee Eastman oracle of the tests: tep-studio's compiled simulator, and its units.

tep-studio (the revised C simulator of Bathelt, Ricker & Jelali) is in the
test extra and only the tests import it. Its states are in lbmol and MMBtu,
ours in kmol and MJ.
"""

from __future__ import annotations

import numpy as np
import pytest

from plant_models.tennessee_eastman import MODEL
from plant_models.tennessee_eastman.constants import LBMOL, MMBTU

TO_ORACLE = np.array([1 / LBMOL if n.startswith("N_") else 1 / MMBTU if n.startswith("H_") else 1.0
                      for n in MODEL.states.names])
"""Our states times this are the oracle's (lbmol, MMBtu, degC, %)."""
NOISY = 0x0F
"""The oracle's flags for a run as Downs & Vogel's, measurement noise on."""
NO_NOISE = NOISY | 0x10
"""The same without measurement noise (0x10: noise off)."""


def native_kernel():
    """(the oracle's derivative kernel, its base-case state), noise off; skips without tep-studio."""
    native = pytest.importorskip("tep_studio.simulation.native")
    kernel = native.NativeTEPKernel()
    return kernel, kernel.reset(initial_state=None, seed=None, ms_flag=NO_NOISE)
