"""Stepping kernels: compiled model C, integrators in plain C, Cython loops.

- :mod:`~twin.core.kernels.functions`: a model's rhs and Jacobian, generated
  by CasADi, compiled once and cached (:mod:`~twin.core.kernels.cache`).
- :mod:`~twin.core.kernels.integrators`: RK4, Dormand-Prince 5(4) and BDF,
  one instance or a batch across threads (Cython over ``twin_integrators.h``).
- :mod:`~twin.core.kernels.reference`: the same functions in pure Python.
"""

from pathlib import Path

HEADER_DIR = Path(__file__).parent
"""Folder of ``twin_integrators.h``, for other C builds (FMU export)."""
