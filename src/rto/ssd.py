"""Steady-state detection on plant data: kept here for the RTO's importers.

The detector lives in :mod:`twin.core.ssd` so that plant-data inspection
(:mod:`twin.core.data`), below the RTO layer, uses the same test.
"""

from twin.core.ssd import SteadyStateDetector, SteadyWindow

__all__ = ["SteadyStateDetector", "SteadyWindow"]
