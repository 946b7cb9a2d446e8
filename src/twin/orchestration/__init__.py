"""Orchestration: finding models by name, reports, the demo.

Sits above ``apc``, ``rto``, ``plant_models`` and the twin core, and below
the command line (DESIGN.md, dependency direction). Later: the closed-loop
runner, the OPC UA deployment and what-if studies.
"""
