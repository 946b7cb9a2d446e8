"""Orchestration: finding models by name, reports, the demo.

Sits above ``apc``, ``rto``, ``plant_models`` and the twin core, and below
the command line (the dependency direction of README.md, checked by
``lint-imports``). Also holds the closed-loop runner (``loop``), the OPC UA
deployment (``opcua``) and what-if studies (``whatif``).
"""
