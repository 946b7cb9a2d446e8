"""One HiGHS LP kept between solves (``highspy``), so each solve starts from the last basis.

The stages of the steady-state optimiser are one LP with changing costs
and bounds: kept in one ``highspy.Highs`` object, each stage and each
cycle starts the dual simplex from the previous optimal basis (a hot
start). On 40 MVs x 80 CVs (``twin bench --only ss_40x80``) a cycle takes
6.4 ms hot-started against 11.7 ms from a slack basis, and the same LPs
through CasADi's ``conic`` "highs" plugin, which builds the LP anew on
every call, 8.9 ms without any Python around them. Presolve is off: it
declares the stages' tight frozen optima infeasible (seen on the 40 x 80
problem, here and through CasADi) where the simplex finds the point.

Do not use CasADi's "highs" plugin in a process that imports ``highspy``:
both bring their own HiGHS library, and creating or querying a CasADi
HiGHS solver after ``highspy`` is loaded crashes the process
(segmentation fault, casadi 3.8.2 with highspy 1.15.1).
"""

from __future__ import annotations

import highspy
import numpy as np

_INF = highspy.kHighsInf


def _finite(v: np.ndarray) -> np.ndarray:
    """Bounds as HiGHS takes them (its infinity is ``inf``)."""
    return np.asarray(v, dtype=float)


class HighsLP:
    """``min c'z`` subject to ``lba <= A z <= uba``, ``lbx <= z <= ubx``, hot-started.

    ``a`` is dense (n_row, n_var); its structural pattern is fixed, its
    entries may change with :meth:`set_row`. ``hot = False`` makes every
    solve start from scratch (presolve, crash basis): the benchmark's baseline.
    """

    hot: bool = True
    record: list | None = None
    """When a list: each solve appends its LP (A in CSC arrays, c, bounds) for the benchmark."""

    def __init__(self, a: np.ndarray, pattern: np.ndarray):
        self.n_row, self.n_var = a.shape
        self.highs = h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        # presolve off (see the module docstring)
        h.setOptionValue("presolve", "off")
        h.addVars(self.n_var, np.zeros(self.n_var), np.zeros(self.n_var))
        starts, index, value = [], [], []
        for r in range(self.n_row):
            starts.append(len(index))
            cols = np.flatnonzero(pattern[r] & (a[r] != 0))
            index.extend(cols.tolist())
            value.extend(a[r, cols].tolist())
        h.addRows(self.n_row, np.full(self.n_row, -_INF), np.full(self.n_row, _INF), len(index),
                  np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                  np.array(value, dtype=float))
        self._cols = np.arange(self.n_var, dtype=np.int32)
        self._rows = np.arange(self.n_row, dtype=np.int32)
        self._row_values: dict[int, np.ndarray] = {}
        self._bases: dict[str, highspy.HighsBasis] = {}

    def set_row(self, row: int, values: np.ndarray) -> None:
        """Replace the first ``len(values)`` entries of ``row`` (only when they change)."""
        values = np.asarray(values, dtype=float)
        old = self._row_values.get(row)
        if old is not None and np.array_equal(old, values):
            return
        for j, v in enumerate(values):
            if old is None or old[j] != v:
                self.highs.changeCoeff(row, j, float(v))
        self._row_values[row] = values.copy()

    def solve(self, c: np.ndarray, lba: np.ndarray, uba: np.ndarray, lbx: np.ndarray,
              ubx: np.ndarray, stage: str | None = None) -> tuple[np.ndarray | None, float, str]:
        """``(z, c'z, status)``; ``z`` is None unless optimal.

        ``stage`` names the objective: the solve starts from the optimal basis of the
        last solve of that stage (a cycle's stages have different costs, and each
        stage's LP changes little from one cycle to the next)."""
        h = self.highs
        h.changeColsCost(self.n_var, self._cols, np.asarray(c, dtype=float))
        lbx, ubx, lba, uba = _finite(lbx), _finite(ubx), _finite(lba), _finite(uba)
        h.changeColsBounds(self.n_var, self._cols, lbx, ubx)
        h.changeRowsBounds(self.n_row, self._rows, lba, uba)
        if self.record is not None:
            am = h.getLp().a_matrix_
            rowwise = am.format_ == highspy.MatrixFormat.kRowwise
            self.record.append((rowwise, np.array(am.start_), np.array(am.index_),
                                np.array(am.value_), np.array(c, dtype=float), lba, uba, lbx, ubx))
        if not self.hot:
            h.clearSolver()
        elif stage in self._bases:
            h.setBasis(self._bases[stage])
        h.run()
        status = h.getModelStatus()
        text = h.modelStatusToString(status)
        if status != highspy.HighsModelStatus.kOptimal:
            self._bases.pop(stage, None)
            return None, float("nan"), text
        if self.hot and stage is not None:
            self._bases[stage] = h.getBasis()
        z = np.array(h.getSolution().col_value)
        self._last = (lbx, ubx, lba, uba)
        return z, float(np.dot(c, z)), text

    def unique(self, n_col: int, n_row: int, tol: float = 1e-9, room: float = 1e-6) -> bool:
        """Whether the last optimum is the only one in its first ``n_col`` columns and ``n_row``
        rows (none nonbasic with a zero reduced cost and ``room`` to move): then a tie-break
        stage can be skipped. Columns and rows after those are auxiliary."""
        h = self.highs
        status, where = h.getBasicVariables()          # column j, or row r as -1 - r
        if status != highspy.HighsStatus.kOk:
            return False
        basic_col = np.zeros(self.n_var, dtype=bool)
        basic_col[where[where >= 0]] = True
        basic_row = np.zeros(self.n_row, dtype=bool)
        basic_row[-1 - where[where < 0]] = True
        sol = h.getSolution()
        lbx, ubx, lba, uba = self._last
        for basic, dual, lo, hi, k in ((basic_col, sol.col_dual, lbx, ubx, n_col),
                                       (basic_row, sol.row_dual, lba, uba, n_row)):
            free = (hi[:k] - lo[:k]) > room
            if np.any(~basic[:k] & free & (np.abs(np.asarray(dual)[:k]) < tol)):
                return False
        return True
