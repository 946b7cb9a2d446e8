"""A Pyomo solver that solves through CasADi's bundled IPOPT.

``SolverFactory("casadi_ipopt")`` (or :class:`CasadiIpopt` directly)
translates a ``ConcreteModel`` (:mod:`rto.translate`), solves it with the
IPOPT inside the casadi wheel, and loads the results back: variable values,
and constraint duals into a ``dual`` Suffix when the model has an IMPORT
one, with the sign convention Pyomo uses for NL-file solvers (the
multipliers of the Lagrangian ``f + lambda' g`` of the minimisation).

Persistent use (``SolverFactory("casadi_ipopt_persistent")``): after
``set_instance(model)`` the NLP is built once; each ``solve()`` reads the
current values of mutable parameters and bounds, and warm-starts from the
previous primal-dual solution.
"""

from __future__ import annotations

import time

import casadi as ca
import numpy as np
import pyomo.environ as pyo
from pyomo.opt import SolverFactory, SolverResults, SolverStatus, TerminationCondition

from rto.translate import Translation, translate
from twin.core.errors import InputError

_TERMINATION = {
    "Solve_Succeeded": (TerminationCondition.optimal, SolverStatus.ok),
    "Solved_To_Acceptable_Level": (TerminationCondition.locallyOptimal, SolverStatus.ok),
    "Infeasible_Problem_Detected": (TerminationCondition.infeasible, SolverStatus.warning),
    "Maximum_Iterations_Exceeded": (TerminationCondition.maxIterations, SolverStatus.warning),
    "Maximum_CpuTime_Exceeded": (TerminationCondition.maxTimeLimit, SolverStatus.warning),
    "Maximum_WallTime_Exceeded": (TerminationCondition.maxTimeLimit, SolverStatus.warning),
    "Diverging_Iterates": (TerminationCondition.unbounded, SolverStatus.warning),
    "Restoration_Failed": (TerminationCondition.other, SolverStatus.warning),
    "Invalid_Number_Detected": (TerminationCondition.error, SolverStatus.error),
}

DEFAULT_OPTIONS = {"tol": 1e-10, "max_iter": 3000}
"""IPOPT options used unless overridden through ``solver.options``."""


class CasadiIpopt:
    """Pyomo-style solver: ``CasadiIpopt().solve(model)`` returns ``SolverResults``.

    ``options`` are IPOPT options (``{"tol": 1e-8, "max_iter": 500}``).
    """

    name = "casadi_ipopt"

    def __init__(self, **kwds):
        self.options = dict(kwds.pop("options", {}) or {})
        self._translation: Translation | None = None
        self._solver = None
        self._solver_key = None
        self._warm = None

    # -- Pyomo solver protocol -------------------------------------------------
    def available(self, exception_flag: bool = True) -> bool:
        return ca.has_nlpsol("ipopt")

    def license_is_valid(self) -> bool:
        return True

    def version(self) -> tuple:
        return tuple(int(v) for v in ca.__version__.split(".")[:3])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def solve(self, model=None, tee: bool = False, load_solutions: bool = True,
              options: dict | None = None, **kwds) -> SolverResults:
        """Translate (unless persistent and already built), solve, load the results."""
        unknown = set(kwds) - {"symbolic_solver_labels", "keepfiles", "report_timing"}
        if unknown:
            raise InputError(f"casadi_ipopt.solve: unknown argument '{sorted(unknown)[0]}'")
        if model is None:
            raise InputError("casadi_ipopt.solve needs a model")
        translation = self._translate(model)
        return self._solve(translation, tee, load_solutions, {**self.options, **(options or {})},
                           warm=False)

    def _translate(self, model) -> Translation:
        return translate(model)

    def _nlpsol(self, translation: Translation, tee: bool, options: dict, warm: bool):
        key = (id(translation), tee, tuple(sorted(options.items())), warm)
        if key != self._solver_key:
            opts = {f"ipopt.{k}": v for k, v in {**DEFAULT_OPTIONS, **options}.items()}
            opts.update({"ipopt.print_level": 5 if tee else 0, "print_time": tee,
                         "ipopt.sb": "yes"})
            if warm:
                opts.update({"ipopt.warm_start_init_point": "yes", "ipopt.mu_init": 1e-6,
                             "ipopt.warm_start_bound_push": 1e-9,
                             "ipopt.warm_start_mult_bound_push": 1e-9})
            self._solver = ca.nlpsol("pyomo_nlp", "ipopt", translation.nlp, opts)
            self._solver_key = key
        return self._solver

    def _solve(self, t: Translation, tee, load_solutions, options, warm) -> SolverResults:
        lbx, ubx, lbg, ubg = t.bounds()
        args = dict(lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg, p=t.parameter_values())
        use_warm = warm and self._warm is not None
        if use_warm:
            x0, lam_x, lam_g = self._warm
            args.update(x0=np.clip(x0, lbx, ubx), lam_x0=lam_x, lam_g0=lam_g)
        else:
            args.update(x0=t.initial_point())
        solver = self._nlpsol(t, tee, options, use_warm)
        start = time.perf_counter()
        try:
            r = solver(**args)
            stats = solver.stats()
        except RuntimeError as exc:
            r, stats = None, {"return_status": "Invalid_Number_Detected",
                              "message": str(exc).splitlines()[-1]}
        elapsed = time.perf_counter() - start
        results = SolverResults()
        status = str(stats.get("return_status", ""))
        condition, solver_status = _TERMINATION.get(status, (TerminationCondition.other,
                                                              SolverStatus.warning))
        results.solver.name = self.name
        results.solver.status = solver_status
        results.solver.termination_condition = condition
        results.solver.message = status
        results.solver.wallclock_time = elapsed
        results.solver.time = elapsed
        results.solver.iterations = int(stats.get("iter_count", 0))
        results.problem.number_of_variables = len(t.variables)
        results.problem.number_of_constraints = len(t.constraints)
        if r is not None:
            x = np.array(r["x"]).ravel()
            lam_g = np.array(r["lam_g"]).ravel()
            solved = condition in (TerminationCondition.optimal,
                                   TerminationCondition.locallyOptimal)
            # only a solution warm-starts the next solve: after a failure the next one starts
            # from the model's values again, not from the point where this one gave up
            self._warm = (x, np.array(r["lam_x"]).ravel(), lam_g) if solved else None
            results.problem.lower_bound = results.problem.upper_bound = t.sense * float(r["f"])
            if load_solutions and solved:
                self._load(t, x, lam_g)
        return results

    def last_bound_multipliers(self) -> dict[int, float]:
        """d(objective)/d(bound) of each variable's bound at the last solution, by ``id(var)``.

        Zero for inactive bounds; the derivative of the objective in its own
        sense (a maximised profit gains this much per unit of the bound).
        """
        t = self._translation
        if t is None or self._warm is None:
            return {}
        lam_x = self._warm[1]
        return {id(v): float(-t.sense * lam) for v, lam in zip(t.variables, lam_x)}

    @staticmethod
    def _load(t: Translation, x: np.ndarray, lam_g: np.ndarray) -> None:
        for v, value in zip(t.variables, x):
            if not v.fixed:
                v.set_value(float(value), skip_validation=True)
        model = t.objective.model()
        dual = getattr(model, "dual", None)
        if isinstance(dual, pyo.Suffix) and dual.import_enabled():
            for c, lam in zip(t.constraints, lam_g):
                dual[c] = float(lam)


class CasadiIpoptPersistent(CasadiIpopt):
    """The NLP is built once by :meth:`set_instance`; :meth:`solve` re-solves it warm.

    Between solves, mutable parameters, variable bounds, fixed values and
    constraint bounds may change; structural changes (new components) need
    another :meth:`set_instance`.
    """

    name = "casadi_ipopt_persistent"

    def set_instance(self, model) -> None:
        """Translate ``model`` and keep the NLP for the following solves."""
        self._translation = translate(model)
        self._model = model
        self._warm = None
        self._solver_key = None

    def solve(self, model=None, tee: bool = False, load_solutions: bool = True,
              options: dict | None = None, warm_start: bool = True, **kwds) -> SolverResults:
        if self._translation is None or (model is not None and model is not self._model):
            if model is None:
                raise InputError("casadi_ipopt_persistent: call set_instance(model) first")
            self.set_instance(model)
        return self._solve(self._translation, tee, load_solutions,
                           {**self.options, **(options or {})}, warm=warm_start)


SolverFactory.register("casadi_ipopt", doc="IPOPT from the casadi wheel, via a CasADi NLP")(
    CasadiIpopt)
SolverFactory.register("casadi_ipopt_persistent",
                       doc="IPOPT from the casadi wheel, NLP kept between solves")(
    CasadiIpoptPersistent)
