"""daqp with its workspace kept between control cycles (the ``daqp`` package's ``Model``).

The dynamic QP of the linear MPC has the same Hessian and constraint
matrix every cycle; only the gradient and the bounds change. daqp's
``Model`` factorises the Hessian and sets up the constraints once and
keeps its working set, so a cycle's solve starts from the last cycle's
active set and costs only the active-set changes. CasADi's ``daqp``
plugin runs the whole setup on every call: on the 40 MV x 80 CV example's
QP of 1,200 variables about 3.3 s per cycle against about 11 ms here, the
same solution within 1e-12 (README, "Linear MPC").
"""

from __future__ import annotations

import daqp
import numpy as np

DAQP_INFINITY = 1e30
"""daqp's stand-in for an absent bound."""


class DaqpWorkspace:
    """``min 1/2 z'Hz + g'z`` s.t. ``lbx <= z <= ubx``, ``lba <= A z <= uba``, warm across calls.

    :meth:`solve` sets the problem up on the first call and when ``H``
    changes (``h_key``), else updates the gradient and bounds only.
    A failed solve forgets the workspace, so the next one starts afresh.
    """

    def __init__(self, A: np.ndarray, settings: dict):
        self.A = np.ascontiguousarray(A, dtype=float)
        self.settings = settings
        self._model: daqp.Model | None = None
        self._h_key = None

    def reset(self) -> None:
        """Forget the factorisation and the working set."""
        self._model = None

    def solve(self, H: np.ndarray, h_key, g, lbx, ubx, lba, uba):
        """``(z, stats)``: stats with ``success``, ``return_status`` (daqp's exit flag) and
        ``iter_count``, as CasADi reports them."""
        upper = np.minimum(np.concatenate([ubx, uba]), DAQP_INFINITY)
        lower = np.maximum(np.concatenate([lbx, lba]), -DAQP_INFINITY)
        model = self._model
        if model is None or h_key != self._h_key:
            model = daqp.Model()
            model.settings = dict(self.settings)
            # (daqp may keep pointers into the arrays it was given: they are kept alive here)
            self._arrays = (np.array(H, dtype=float), np.array(g, dtype=float), upper, lower)
            flag, _ = model.setup(self._arrays[0], self._arrays[1], self.A, upper, lower)
            if flag < 0:
                self._model = None
                return np.full(len(g), np.nan), {"success": False, "return_status": flag,
                                                 "iter_count": 0}
            self._model, self._h_key = model, h_key
        else:
            self._arrays = (self._arrays[0], np.array(g, dtype=float), upper, lower)
            model.update(f=self._arrays[1], bupper=upper, blower=lower)
        z, _, flag, info = model.solve()
        ok = flag > 0
        if not ok:
            self._model = None
        return np.asarray(z, dtype=float), {"success": ok, "return_status": flag,
                                            "iter_count": int(info.get("iterations", 0))}
