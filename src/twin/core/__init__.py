"""The twin core: model API, reference simulation, steady states.

Imports nothing of the project above it (DESIGN.md, dependency direction):
no ``plant_models``, ``apc`` or ``rto``, and nothing of the orchestration
or the command line.
"""
