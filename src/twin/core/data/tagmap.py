"""Tag maps: which historian tag is which model variable, in which unit, scaled how.

A tag map is a TOML file with one table per tag::

    title = "Quadruple tank historian tags"

    [tags."LI-101.PV"]
    variable = "h1"        # model variable name (default: the tag name)
    unit = "cm"            # unit of the tag's values once scaled (default: the file header's)
    role = "cv"            # mv, cv or dv (resampling holds mv and dv)

    [tags."TI-201.PV"]
    variable = "T_R"
    unit = "degC"
    to_unit = "K"          # convert to this unit (the model variable's)
    scale = 1.0            # value = scale * raw + offset, in `unit`, before conversion
    offset = 0.0

Each value is read as ``scale * raw + offset`` (giving the tag's ``unit``)
and then converted to ``to_unit`` with the units layer (offsets of degC
and degF applied). A unit that cannot be converted is refused when the map
is read, one line naming the tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from twin.core.config import build, check_domains, read_toml
from twin.core.errors import InputError
from twin.core.units import convert_array, parse_unit


@dataclass(frozen=True)
class TagSpec:
    """One tag of a tag map.

    Attributes
    ----------
    variable : str
        Model variable the tag becomes ("" : the tag's own name).
    unit : str
        Unit of ``scale * raw + offset`` ("" : the unit in the file's header, if any).
    to_unit : str
        Unit the values are converted to ("" : ``unit``, no conversion).
    scale : float
        Factor on the raw value [unit / raw unit]; not zero.
    offset : float
        Added after scaling [unit].
    role : str
        ``mv``, ``cv``, ``dv``, or "" when not said.
    """

    variable: str = ""
    unit: str = ""
    to_unit: str = ""
    scale: float = 1.0
    offset: float = 0.0
    role: Literal["", "mv", "cv", "dv"] = ""

    def __post_init__(self) -> None:
        check_domains(self)
        if self.scale == 0:
            raise InputError("scale: 0 would make every value the offset; give the factor "
                             "from raw values to the unit")
        for key in ("unit", "to_unit"):
            if getattr(self, key):
                parse_unit(getattr(self, key), key)
        if self.to_unit and not self.unit:
            raise InputError(f"to_unit '{self.to_unit}' needs the unit the tag is in ('unit')")
        if self.to_unit and self.unit:
            convert_array([0.0], self.unit, self.to_unit, f"unit '{self.unit}'")

    def apply(self, raw: np.ndarray, header_unit: str | None, where: str) -> tuple[np.ndarray, str]:
        """Values of the tag in its target unit, and that unit.

        ``header_unit`` is the unit the file's header gives the column
        (wide files); it must agree with :attr:`unit` when both are given.
        """
        unit = self.unit or header_unit or ""
        if self.unit and header_unit and parse_unit(header_unit, where) != parse_unit(self.unit,
                                                                                     where):
            raise InputError(f"{where}: the file says [{header_unit}], the tag map unit "
                             f"'{self.unit}'; make them agree")
        values = np.asarray(raw, dtype=float) * self.scale + self.offset
        if self.to_unit and self.to_unit != unit:
            return convert_array(values, unit, self.to_unit, where), self.to_unit
        return values, unit


@dataclass(frozen=True)
class TagMap:
    """Tags of a historian export and the model variables they become.

    Attributes
    ----------
    tags : dict
        Tag name -> :class:`TagSpec`.
    title : str
        One line saying what the map is for.
    """

    tags: dict[str, TagSpec] = field(default_factory=dict)
    title: str = ""

    def __post_init__(self) -> None:
        if not self.tags:
            raise InputError("tags: no tag given ([tags.NAME] tables)")
        seen: dict[str, str] = {}
        for tag, spec in self.tags.items():
            name = self.variable(tag)
            if not name.strip() or not name.isprintable():
                raise InputError(f"tags.{tag}: variable name {name!r} is empty or unprintable")
            if name in seen:
                raise InputError(f"tags.{tag}: variable '{name}' is also tag '{seen[name]}'; "
                                 "give each tag its own variable")
            seen[name] = tag
        if "time" in seen:
            raise InputError(f"tags.{seen['time']}: 'time' is the time axis, not a variable name")

    def variable(self, tag: str) -> str:
        """Model variable name of ``tag``."""
        return self.tags[tag].variable or tag


def read_tagmap(path: str | Path) -> TagMap:
    """A tag map from a TOML file; every mistake is a one-line :class:`InputError`."""
    return build(TagMap, read_toml(path), f"tag map '{path}'")
