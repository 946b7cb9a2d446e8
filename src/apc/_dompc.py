"""do-mpc, imported and driven without its notices.

do-mpc announces its optional ONNX and PyTorch features on import, and
calls NumPy functions on CasADi values (CasADi then warns about a future
change of that legacy behaviour); neither concerns this project's use.
"""

from __future__ import annotations

import contextlib
import warnings


@contextlib.contextmanager
def quiet():
    """Silence do-mpc's import notices and CasADi's NumPy-dispatch FutureWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"do_mpc(\..*)?")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"casadi(\..*)?")
        warnings.filterwarnings("ignore", message=".*(ONNX|PyTorch|torch).*")
        yield


def do_mpc():
    """The ``do_mpc`` module (imported once, quietly)."""
    with quiet():
        import do_mpc as module
    return module
