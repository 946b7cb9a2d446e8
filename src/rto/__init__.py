"""Real-time optimisation: steady-state economics in Pyomo.

- :mod:`rto.solver`: a Pyomo solver (``SolverFactory("casadi_ipopt")``) that
  solves through the IPOPT bundled in casadi, persistent variant included;
- :mod:`rto.economics_spec`: economics files (prices, profit, envelope), read
  without Pyomo;
- :mod:`rto.economics`: economic steady-state optimisation of plant models;
- :mod:`rto.schemes`: the two-step and modifier-adaptation RTO schemes that act
  on a plant at steady states detected on its data.

Imports only the twin core (the dependency direction of README.md).
Importing the package imports nothing else: Pyomo (about 1 s) is loaded by
the modules that solve, and importing :mod:`rto.solver` registers its
solvers with Pyomo.
"""
