# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled stepping loops over steps, instances and threads (private; see integrators.py).

The numerics of one step live in twin_integrators.h; this module only
carries the loops, without the GIL, calling the model's generated C through
the function pointers held by a KernelModel.
"""

from cython.parallel import prange, parallel, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from libc.math cimport isfinite, NAN

import numpy as np


cdef extern from "twin_integrators.h" nogil:
    ctypedef int (*twin_eval_fn)(const double *x, const double *u, const double *p,
                                 double *out, double *w)
    ctypedef struct twin_model:
        twin_eval_fn rhs
        twin_eval_fn jac
        int nx
        int model_work
        int jac_nnz
        const int *jac_row
        const int *jac_col
        const int *perm
        int kl
        int ku
    ctypedef struct twin_stats:
        long steps
        long rejected
        long rhs_evals
        long jac_evals
        long lu_decomps
        double h
        int order
    size_t twin_work_size(const twin_model *m, int method)
    size_t twin_iwork_size(const twin_model *m, int method)
    void twin_stats_init(twin_stats *st, double h0)
    int twin_integrate(const twin_model *m, int method, double *x, const double *u,
                       const double *p, double T, double rtol, double atol, long n_sub,
                       long max_steps, double *work, int *iwork, twin_stats *st)

METHODS = {"rk4": 0, "dopri5": 1, "bdf": 2}
STATS_FIELDS = ("steps", "rejected", "rhs_evals", "jac_evals", "lu_decomps", "order")


cdef class KernelModel:
    """Function pointers and Jacobian structure of one compiled model."""

    cdef twin_model m
    cdef readonly int nx, nu, np
    cdef object _keep

    def __cinit__(self, uintptr_t rhs, uintptr_t jac, int nx, int nu, int np, int model_work,
                  int[::1] jac_row, int[::1] jac_col, int[::1] perm, int kl, int ku, keep):
        self.m.rhs = <twin_eval_fn>rhs
        self.m.jac = <twin_eval_fn>jac
        self.m.nx = nx
        self.m.model_work = model_work
        self.m.jac_nnz = jac_row.shape[0]
        self.m.jac_row = &jac_row[0] if jac_row.shape[0] else NULL
        self.m.jac_col = &jac_col[0] if jac_col.shape[0] else NULL
        self.m.perm = &perm[0]
        self.m.kl = kl
        self.m.ku = ku
        self.nx, self.nu, self.np = nx, nu, np
        self._keep = (keep, jac_row, jac_col, perm)  # the library and the index arrays


cdef inline void _stats_row(twin_stats *st, long *row) noexcept nogil:
    row[0] = st.steps
    row[1] = st.rejected
    row[2] = st.rhs_evals
    row[3] = st.jac_evals
    row[4] = st.lu_decomps
    row[5] = st.order


def integrate(KernelModel km, str method, double[::1] x, const double[::1] u,
              const double[::1] p, double T, double rtol, double atol, long n_sub,
              long max_steps, double h0):
    """Integrate one instance in place over [0, T]; returns (status, stats tuple, next h)."""
    cdef int meth = METHODS[method]
    cdef size_t ws = twin_work_size(&km.m, meth), iws = twin_iwork_size(&km.m, meth)
    cdef double *work = <double*>malloc(ws * sizeof(double))
    cdef int *iwork = <int*>malloc((iws + 1) * sizeof(int))
    cdef twin_stats st
    cdef int status
    if work == NULL or iwork == NULL:
        free(work); free(iwork)
        raise MemoryError()
    twin_stats_init(&st, h0)
    with nogil:
        status = twin_integrate(&km.m, meth, &x[0], &u[0] if u.shape[0] else NULL,
                                &p[0] if p.shape[0] else NULL, T, rtol, atol, n_sub,
                                max_steps, work, iwork, &st)
    free(work)
    free(iwork)
    return status, (st.steps, st.rejected, st.rhs_evals, st.jac_evals, st.lu_decomps, st.order), st.h


def integrate_batch(KernelModel km, str method, const double[:, ::1] X0,
                    const double[:, :, ::1] U, const double[:, ::1] P, double dt, double rtol,
                    double atol, long n_sub, long max_steps, double[:, :, ::1] out,
                    int[::1] status, long[:, ::1] stats, int threads, int chunk):
    """N instances over K intervals of length dt, each with its own inputs per interval.

    out[i, 0] = X0[i]; out[i, k + 1] is the state after interval k. Each
    instance carries its own step size from interval to interval. Instances
    are independent, so results do not depend on threads or chunking.
    """
    cdef int meth = METHODS[method]
    cdef Py_ssize_t N = X0.shape[0], K = U.shape[1], nx = X0.shape[1]
    cdef size_t ws = twin_work_size(&km.m, meth), iws = twin_iwork_size(&km.m, meth) + 1
    cdef int nthreads = threads if threads > 0 else 1
    cdef double *work = <double*>malloc(nthreads * ws * sizeof(double))
    cdef int *iwork = <int*>malloc(nthreads * iws * sizeof(int))
    cdef twin_stats *sts = <twin_stats*>malloc(nthreads * sizeof(twin_stats))
    cdef Py_ssize_t i
    cdef int tid
    if work == NULL or iwork == NULL or sts == NULL:
        free(work); free(iwork); free(sts)
        raise MemoryError()
    try:
        with nogil, parallel(num_threads=nthreads):
            tid = threadid()
            if chunk > 0:
                for i in prange(N, schedule="static", chunksize=chunk):
                    _run_instance(&km.m, meth, X0, U, P, dt, rtol, atol, n_sub, max_steps, out,
                                  status, stats, i, work + tid * ws, iwork + tid * iws, &sts[tid])
            else:
                for i in prange(N, schedule="static"):
                    _run_instance(&km.m, meth, X0, U, P, dt, rtol, atol, n_sub, max_steps, out,
                                  status, stats, i, work + tid * ws, iwork + tid * iws, &sts[tid])
    finally:
        free(work)
        free(iwork)
        free(sts)


cdef void _run_instance(const twin_model *m, int meth, const double[:, ::1] X0,
                        const double[:, :, ::1] U, const double[:, ::1] P, double dt,
                        double rtol, double atol, long n_sub, long max_steps,
                        double[:, :, ::1] out, int[::1] status, long[:, ::1] stats,
                        Py_ssize_t i, double *work, int *iwork, twin_stats *st) noexcept nogil:
    cdef Py_ssize_t K = U.shape[1], nx = X0.shape[1], nu = U.shape[2], k, k2, j
    cdef int rc = 0
    cdef const double *pp = &P[i, 0] if P.shape[1] else NULL
    twin_stats_init(st, 0.0)
    memcpy(&out[i, 0, 0], &X0[i, 0], nx * sizeof(double))
    for k in range(K):
        memcpy(&out[i, k + 1, 0], &out[i, k, 0], nx * sizeof(double))
        rc = twin_integrate(m, meth, &out[i, k + 1, 0], &U[i, k, 0] if nu else NULL, pp,
                            dt, rtol, atol, n_sub, max_steps, work, iwork, st)
        if rc != 0:
            for k2 in range(k + 1, K + 1):
                for j in range(nx):
                    out[i, k2, j] = NAN
            break
    status[i] = rc
    _stats_row(st, &stats[i, 0])


cdef class Stepper:
    """Advances one instance by one control interval per call: the twin's hot path.

    step(u) checks u in C (length, finite, within bounds), integrates over
    dt and returns a copy of the new state; on bad input or a failed
    integration it keeps the state as it was and calls on_error(kind,
    index or status, value or time), which raises.
    """

    cdef KernelModel km
    cdef int meth
    cdef double[::1] x, trial, u, p, lower, upper
    cdef object _x_array
    cdef readonly double dt, rtol, atol, t
    cdef readonly long n_sub, max_steps, n_calls
    cdef double *work
    cdef int *iwork
    cdef twin_stats st
    cdef object on_error

    def __cinit__(self, KernelModel km, str method, x0, p, double dt, double rtol, double atol,
                  long n_sub, long max_steps, lower, upper, on_error):
        self.km = km
        self.meth = METHODS[method]
        self._x_array = np.array(x0, dtype=float)
        self.x = self._x_array
        self.trial = np.array(x0, dtype=float)
        self.u = np.zeros(km.nu)
        self.p = np.array(p, dtype=float)
        self.lower = np.array(lower, dtype=float)
        self.upper = np.array(upper, dtype=float)
        self.dt, self.rtol, self.atol = dt, rtol, atol
        self.n_sub, self.max_steps = n_sub, max_steps
        self.t = 0.0
        self.n_calls = 0
        self.on_error = on_error
        self.work = <double*>malloc(twin_work_size(&km.m, self.meth) * sizeof(double))
        self.iwork = <int*>malloc((twin_iwork_size(&km.m, self.meth) + 1) * sizeof(int))
        if self.work == NULL or self.iwork == NULL:
            raise MemoryError()
        twin_stats_init(&self.st, 0.0)

    def __dealloc__(self):
        free(self.work)
        free(self.iwork)

    def step(self, u):
        """State after one interval dt with inputs u held constant."""
        cdef const double[::1] uv
        cdef Py_ssize_t j, nu = self.km.nu
        cdef int rc
        cdef double v
        try:
            uv = u
        except (TypeError, ValueError):
            uv = np.ascontiguousarray(u, dtype=float)
        if uv.shape[0] != nu:
            self.on_error("length", uv.shape[0], 0.0)
        for j in range(nu):
            v = uv[j]
            if not isfinite(v):
                self.on_error("nonfinite", j, v)
            if v < self.lower[j] or v > self.upper[j]:
                self.on_error("bounds", j, v)
            self.u[j] = v
        with nogil:
            memcpy(&self.trial[0], &self.x[0], self.km.nx * sizeof(double))
            rc = twin_integrate(&self.km.m, self.meth, &self.trial[0], &self.u[0] if nu else NULL,
                                &self.p[0] if self.p.shape[0] else NULL, self.dt, self.rtol,
                                self.atol, self.n_sub, self.max_steps, self.work, self.iwork,
                                &self.st)
            if rc == 0:
                memcpy(&self.x[0], &self.trial[0], self.km.nx * sizeof(double))
        if rc != 0:
            self.st.h = 0.0
            self.on_error("integration", rc, self.t)
        self.t += self.dt
        self.n_calls += 1
        return self._x_array.copy()

    def reset(self, x0, double t=0.0):
        """Set the state (and time) without integrating."""
        cdef double[::1] xv = np.ascontiguousarray(x0, dtype=float)
        self.x[:] = xv
        self.t = t
        self.st.h = 0.0

    def set_parameters(self, p):
        """Replace the parameter vector."""
        cdef double[::1] pv = np.ascontiguousarray(p, dtype=float)
        self.p[:] = pv

    @property
    def state(self):
        """A copy of the current state."""
        return self._x_array.copy()

    @property
    def stats(self):
        """Counters since creation: steps, rejected, rhs_evals, jac_evals, lu_decomps, order."""
        return dict(zip(STATS_FIELDS, (self.st.steps, self.st.rejected, self.st.rhs_evals,
                                       self.st.jac_evals, self.st.lu_decomps, self.st.order)))
