"""Advanced process control: NMPC on do-mpc with state and disturbance estimation.

The controller specification (:mod:`apc.spec`), the steady-state target
calculation (:mod:`apc.targets`), estimators (:mod:`apc.estimation`), the
NMPC (:mod:`apc.nmpc`), solves within a wall-clock budget
(:mod:`apc.bounded`) and the operating semantics (:mod:`apc.controller`).
Imports only the twin core (the dependency direction of README.md, checked
by ``lint-imports``).
"""
