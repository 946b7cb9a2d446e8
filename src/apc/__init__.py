"""Advanced process control: NMPC on do-mpc with state and disturbance estimation.

Planned contents (see the APC issue): the controller specification, the
steady-state target calculation, estimators and the operating semantics.
Imports only the twin core (DESIGN.md, dependency direction).
"""
