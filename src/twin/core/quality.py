"""Quality of a value read from the plant, after OPC UA's status classes."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Quality(enum.Enum):
    """OPC UA status class of a value: only GOOD values are fully trusted."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"


@dataclass(frozen=True)
class Reading:
    """One value read from the plant.

    Attributes
    ----------
    value : float
        The value [unit of the variable].
    quality : Quality
        Its status class.
    fresh : bool
        True when the value is new since the previous cycle (analysers
        report new values only every sample interval).
    timestamp : float
        When the value was taken [model time unit], ``nan`` if unknown.
    """

    value: float
    quality: Quality = Quality.GOOD
    fresh: bool = True
    timestamp: float = float("nan")
