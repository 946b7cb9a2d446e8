"""A model's right-hand side and Jacobian, compiled and in Python.

:func:`model_functions` generates C for the model (CasADi), compiles it
once into the per-user cache and loads it; the result serves both the
compiled kernels (function pointers) and the Python reference integrators
(CasADi evaluation). Without a working C compiler it still returns the
Python side, with :attr:`ModelFunctions.kernel` set to ``None``, and logs
once that stepping falls back to CasADi evaluation.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.core import ops
from twin.core.kernels import cache
from twin.core.kernels.codegen import CODEGEN_VERSION, JacobianStructure, generate
from twin.core.model import Model
from twin.core.symbolic import casadi_form

log = logging.getLogger(__name__)

_CACHE: dict[tuple, "ModelFunctions"] = {}
_WARNED: list[str] = []


@dataclass(frozen=True, eq=False)
class ModelFunctions:
    """Everything an integrator needs of one model structure.

    Attributes
    ----------
    model : Model
        The model the functions were generated from (values of ``p`` are inputs).
    structure : JacobianStructure
        Jacobian nonzero positions and the band-reducing permutation.
    kernel : _kernels.KernelModel or None
        Compiled function pointers; ``None`` when no C compiler was usable.
    library : pathlib.Path or None
        The compiled shared library in the cache.
    note : str
        Why ``kernel`` is ``None``, else empty.
    """

    model: Model
    structure: JacobianStructure
    kernel: object | None
    library: Path | None
    note: str = ""

    @property
    def compiled(self) -> bool:
        """True when the compiled kernels can be used."""
        return self.kernel is not None

    def rhs(self, x, u, p) -> np.ndarray:
        """``dx/dt`` by CasADi evaluation (the arithmetic of the generated C)."""
        return np.asarray(casadi_form(self.model).f(x, u, p), dtype=float).ravel()

    def jac(self, x, u, p) -> np.ndarray:
        """Dense ``d(rhs)/dx`` by CasADi evaluation."""
        return np.asarray(casadi_form(self.model).jac_x(x, u, p), dtype=float)


class PythonFunctions:
    """The model's equations evaluated in pure Python (``ops.MATH``): a baseline."""

    def __init__(self, model: Model):
        self.model = model

    def rhs(self, x, u, p) -> np.ndarray:
        return np.array(self.model.evaluate_rhs(list(x), list(u), list(p), ops.MATH))

    def jac(self, x, u, p) -> np.ndarray:
        return np.asarray(casadi_form(self.model).jac_x(x, u, p), dtype=float)


def model_functions(model: Model, compile: bool = True) -> ModelFunctions:
    """Compiled (if possible) and Python functions of ``model``, cached per structure."""
    key = (model.structure, compile)
    if key in _CACHE:
        return _CACHE[key]
    code = generate(model)
    kernel = library = None
    note = ""
    if compile:
        try:
            library = cache.compile_shared(f"/* codegen {CODEGEN_VERSION} */\n" + code.source,
                                           f"twin_{model.name}")
            kernel = _load(model, library, code.model_work, code.structure)
        except cache.CompilerUnavailable as exc:
            note = str(exc)
            if not _WARNED:
                log.warning("%s: stepping with CasADi evaluation instead of compiled kernels "
                            "(correct, but slower)", note)
            _WARNED.append(note)
    else:
        note = "compilation not requested"
    functions = ModelFunctions(model, code.structure, kernel, library, note)
    _CACHE[key] = functions
    return functions


def _load(model: Model, library: Path, model_work: int, structure: JacobianStructure):
    from twin.core.kernels import _kernels

    lib = ctypes.CDLL(str(library))
    address = {name: ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
               for name in ("twin_rhs", "twin_jac")}
    return _kernels.KernelModel(address["twin_rhs"], address["twin_jac"], model.n_x, model.n_u,
                                model.n_p, model_work, structure.rows, structure.cols,
                                structure.perm, structure.kl, structure.ku, lib)


def forget_compiled() -> None:
    """Drop in-process caches (tests use it to exercise a fresh process's path)."""
    _CACHE.clear()
    _WARNED.clear()
    cache._compiler_identity.cache_clear()
