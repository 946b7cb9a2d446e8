"""Specification of the linear controller and of its steady-state optimiser (plain data).

A controller of ``type = "linear"`` (or ``"auto"`` on an identified model)
predicts with a discrete-time linear model: an identified model file, or
the linearisation of the internal model at an operating point, sampled
exactly at the control interval. :class:`LinearSpec` says how it predicts
and which QP solver it uses; :class:`SteadyStateSpec` configures the
LP/QP steady-state optimiser that sets its targets from the model's
steady-state gains (economic costs per MV and CV, ranked limits, ramp CVs,
ill-conditioned directions left alone). Costs and ideal values are on the
CV and MV tables (``cost``, ``ideal``), since they belong to one variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from twin.core.config import Count, Domain, NonNegative, check_domains

SingularValueRatio = Annotated[float, Domain(ge=0, lt=1)]
"""A singular value relative to the largest one."""


@dataclass(frozen=True)
class LinearSpec:
    """How the linear controller predicts and solves.

    Attributes
    ----------
    form : str
        ``"state_space"``: the model's states, a Kalman filter with integrating
        disturbance states; ``"step_response"``: DMC's prediction vector of
        step-response coefficients with the output-bias update; ``"auto"``
        chooses (see the README's linear MPC section).
    operating_point : str
        Where a nonlinear model is linearised: ``"steady_state"`` (the model's
        steady state at the initial inputs) or ``"initial"`` (the initial state
        and inputs as given, an affine model when it is not at rest).
        An identified model is linear already.
    qp_solver : str
        The QP solver of the dynamic problem, or ``"auto"`` (chosen by size).
    settling_intervals : int, optional
        Length of the step-response model [control intervals]; by default long
        enough for every response to settle.
    cv_limits : str
        Where the dynamic QP holds the CV limits (soft, with a slack each, and
        hard): ``"every_stage"`` of the horizon (as the nonlinear controller),
        or ``"block_ends"``, the ends of the move blocks only (DMC's coincidence
        points), with one slack per soft limit for all of them (its largest
        violation is penalised; far fewer variables and rows); ``"auto"``: every
        stage while the QP has at most 2,000 variables, else the block ends.
    """

    form: Literal["auto", "state_space", "step_response"] = "auto"
    operating_point: Literal["steady_state", "initial"] = "steady_state"
    qp_solver: Literal["auto", "daqp", "qpoases", "hpipm", "osqp"] = "auto"
    settling_intervals: Count(1, 10_000) | None = None
    cv_limits: Literal["auto", "every_stage", "block_ends"] = "auto"

    def __post_init__(self) -> None:
        check_domains(self)


@dataclass(frozen=True)
class SteadyStateSpec:
    """The steady-state optimiser of the linear controller (DMC3-style LP, or a QP).

    Attributes
    ----------
    objective : str
        ``"lp"``: minimise the sum of ``cost`` x value over MVs and CVs;
        ``"qp"``: in addition, stay close to each MV's ``ideal`` resting value.
    min_singular_value : float
        Directions of the scaled gain matrix (MVs by their ``scale``, each CV
        row to a largest gain of 1) whose singular value is below this
        fraction of the largest are not moved by the optimiser (reported).
    target_filter : float
        Time constant of a first-order filter on the MV targets [model time
        unit]; 0: none. Each cycle the targets move the fraction
        ``1 - exp(-sample_time / target_filter)`` of the way from the last
        targets to the optimum, which damps the swing that a plant whose gains
        change between operating points (a high-purity column) gives a
        steady-state optimiser that jumps to each new optimum.
    """

    objective: Literal["lp", "qp"] = "lp"
    min_singular_value: SingularValueRatio = 1e-3
    target_filter: NonNegative = 0.0

    def __post_init__(self) -> None:
        check_domains(self)
