"""The Tennessee Eastman constants, read from ``constants.csv`` and put in SI units.

``constants.csv`` (rendered in ``docs/tennessee-eastman.md``) holds every
constant of the model in the unit of its source, with the source and the
conversion applied here. Sources: ``DV93`` is Downs & Vogel (1993), Comput.
Chem. Eng. 17(3):245-255; ``TEPROB`` names the routine of their simulation
code (as revised by Bathelt, Ricker & Jelali 2015) a constant appears in
when no paper gives it.

The conversion factors below are the exact definitions of the units (the
international pound and foot, the standard atmosphere) and the source's own
Btu (1055.056 J, the factor behind its 293.07 kW per MMBtu/h).
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path

COMPONENTS = ("A", "B", "C", "D", "E", "F", "G", "H")
"""The eight components of Downs & Vogel: A, C, D, E reactants, B inert, F by-product, G, H products."""
CONDENSABLE = ("D", "E", "F", "G", "H")
"""Components with a vapour pressure."""
NON_CONDENSABLE = ("A", "B", "C")
"""Components that stay gas in the reactor and separator."""

LBMOL = 0.45359237
"""kmol per lbmol (and kg per lb)."""
FT3 = 0.028316846592
"""m3 per ft3."""
TORR = 101.325 / 760.0
"""kPa per Torr."""
MMBTU = 1055.056
"""MJ per MMBtu (10^6 Btu)."""
ATMOSPHERE = 101.325
"""kPa: gauge pressures are absolute pressures minus this."""

TABLE = Path(__file__).with_name("constants.csv")


@functools.cache
def table(path: Path = TABLE) -> dict[str, tuple[float, str, str, str]]:
    """``key -> (value, unit, source, conversion)`` as written in ``path`` (default ``constants.csv``)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["key"]: (float(row["value"]), row["unit"], row["source"], row["conversion"])
                for row in csv.DictReader(handle)}


def raw(key: str) -> float:
    """The value of ``key`` in the unit of its source."""
    return table()[key][0]


def per_component(prefix: str, components=COMPONENTS) -> tuple[float, ...]:
    """``raw(prefix.X)`` for each component X (0 where the table has none)."""
    values = table()
    return tuple(values[f"{prefix}.{c}"][0] if f"{prefix}.{c}" in values else 0.0
                 for c in components)


def heat_capacity_si(value: float) -> float:
    """MMBtu/(lb degF) [per degC^k] -> MJ/(kg K) [per K^k]: x 1.8 degF/degC x MMBtu/lb in MJ/kg."""
    return value * 1.8 * MMBTU / LBMOL


def density_si(value: float) -> float:
    """lb/ft3 [per degC^k] -> kg/m3 [per K^k]."""
    return value * LBMOL / FT3


def flow_coefficient_si(value: float) -> float:
    """lb/(h Torr^0.5) -> kg/(h kPa^0.5)."""
    return value * LBMOL / math.sqrt(TORR)


def rate_constant_si(ln_k0: float, pressure_order: float) -> float:
    """exp(ln k0) of a rate in lbmol/h per ft3 of vapour and Torr^order -> kmol/(h m3 kPa^order)."""
    return math.exp(ln_k0) * LBMOL / FT3 / TORR ** pressure_order
