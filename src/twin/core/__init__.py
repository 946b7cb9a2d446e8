"""The twin core: model API, reference simulation, steady states.

Imports nothing of the project above it (the dependency direction of README.md, checked by ``lint-imports``):
no ``plant_models``, ``apc`` or ``rto``, and nothing of the orchestration
or the command line.
"""
