"""Economics files: the prices, profit and operating envelope of a plant (no Pyomo needed).

:class:`EconomicsSpec` is what an economics TOML file holds;
:func:`economics_for` reads one by shipped name or path. Reading one does
not import Pyomo, so what-if studies with profit KPIs start without it;
:mod:`rto.economics` optimises with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from twin.core.config import build, read_toml
from twin.core.errors import InputError, UnknownNameError


@dataclass(frozen=True)
class EconomicsSpec:
    """Prices, profit and operating envelope of a plant.

    Attributes
    ----------
    model : str
        Registry name of the model whose steady states are optimised.
    profit : str
        Expression (maximised) over variable names and price names.
    unit : str
        Unit of the profit, e.g. ``"$/s"``.
    prices : dict
        Named constants of the profit expression (changeable without rebuilding).
    bounds : dict
        ``name = [low, high]`` for inputs, states or outputs.
    fixed : dict
        Inputs held at a value (not decided by the optimisation).
    parameter_set, parameters : optional
        Parameters of the model.
    """

    model: str
    profit: str
    unit: str = ""
    prices: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    parameter_set: str | None = None
    parameters: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, pair in self.bounds.items():
            if len(pair) != 2 or pair[0] > pair[1]:
                raise InputError(f"bounds.{name}: give [low, high] with low <= high")


def load_economics(path: str | Path) -> EconomicsSpec:
    """Read an economics file (see :class:`EconomicsSpec`)."""
    return build(EconomicsSpec, read_toml(path), Path(path).name)


def shipped_economics(name: str) -> Path:
    """Path of a shipped economics file (``williams_otto``, ``cstr``)."""
    folder = resources.files("rto") / "economics_data"
    path = Path(str(folder / f"{name}.toml"))
    if not path.is_file():
        names = sorted(p.stem for p in Path(str(folder)).glob("*.toml"))
        error = UnknownNameError("economics", name, names)
        error.args = (f"{error}; or give the path of an economics file: {HOW_TO_WRITE}",)
        raise error
    return path


HOW_TO_WRITE = ("a .toml file with model, unit, profit (an expression of the model's variables, "
                "parameters and prices), prices, bounds and fixed inputs; see README.md, "
                "'Economics files', and the shipped example "
                f"{Path(str(resources.files('rto') / 'economics_data' / 'cstr.toml'))}")
"""How to write an economics file, for messages."""


def economics_for(name_or_path: str) -> EconomicsSpec:
    """An economics spec from a shipped name (``williams_otto``) or a file."""
    path = Path(name_or_path)
    return load_economics(path if path.suffix == ".toml" else shipped_economics(name_or_path))
