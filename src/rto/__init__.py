"""Real-time optimisation: steady-state economics in Pyomo.

- :mod:`rto.solver`: a Pyomo solver (``SolverFactory("casadi_ipopt")``) that
  solves through the IPOPT bundled in casadi, persistent variant included;
- :mod:`rto.economics`: economic steady-state optimisation of plant models;
- :mod:`rto.two_step` and :mod:`rto.modifier_adaptation`: RTO schemes that act
  on a plant at steady states detected on its data.

Imports only the twin core (DESIGN.md, dependency direction).
"""

from rto import solver as _solver  # noqa: F401  (registers the solvers with Pyomo)
