/*
 * twin_integrators.h -- the numerics of one integration step, in plain C.
 *
 * Shared by the Cython stepping kernels (twin.core.kernels) and the FMUs
 * exported from plant models, so both integrate with the very same code.
 * Generic over the model: the right-hand side and the Jacobian are called
 * through function pointers (CasADi-generated C behind a thin wrapper).
 *
 *   twin_rk4     fixed-step classical Runge-Kutta of order 4
 *   twin_dopri5  adaptive Dormand-Prince 5(4) with rtol/atol (Hairer's control)
 *   twin_bdf     adaptive variable-order BDF (orders 1-5, quasi-constant step
 *                size with NDF corrections, Shampine & Reichelt 1997) for stiff
 *                models; simplified Newton with the model's Jacobian, reused
 *                across steps, and a banded LU of the permuted iteration matrix
 *
 * All functions integrate in place over [0, T] with constant inputs u and
 * parameters p, use caller-provided work memory (twin_work_size) and never
 * allocate, so they are safe to call from many threads at once.
 */
#ifndef TWIN_INTEGRATORS_H
#define TWIN_INTEGRATORS_H

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define TWIN_OK 0
#define TWIN_MAX_STEPS 1       /* max_steps attempts used before reaching T */
#define TWIN_STEP_TOO_SMALL 2  /* step size fell below the resolution of t */
#define TWIN_EVAL_FAILED 3     /* the model returned an error or non-finite values */

#define TWIN_METHOD_RK4 0
#define TWIN_METHOD_DOPRI5 1
#define TWIN_METHOD_BDF 2

#define TWIN_BDF_MAX_ORDER 5
#define TWIN_NEWTON_MAXITER 4

/* out = f(x, u, p); w: model work memory. Returns 0 on success. */
typedef int (*twin_eval_fn)(const double *x, const double *u, const double *p,
                            double *out, double *w);

typedef struct {
    twin_eval_fn rhs;     /* dx/dt, nx values */
    twin_eval_fn jac;     /* the jac_nnz structural nonzeros of d(rhs)/dx */
    int nx;
    int model_work;       /* doubles of work memory rhs and jac need */
    int jac_nnz;
    const int *jac_row;   /* permuted row of each nonzero */
    const int *jac_col;   /* permuted column of each nonzero */
    const int *perm;      /* permuted index i is state perm[i] */
    int kl, ku;           /* lower/upper bandwidth of the permuted Jacobian */
} twin_model;

typedef struct {
    long steps;        /* accepted steps */
    long rejected;     /* rejected step attempts */
    long rhs_evals;
    long jac_evals;
    long lu_decomps;
    double h;          /* in: first step to try (<= 0: automatic); out: next step proposed */
    int order;         /* order used last */
} twin_stats;

static inline size_t twin_band_ld(const twin_model *m) { return (size_t)(2 * m->kl + m->ku + 1); }

/* Doubles of work memory a method needs for model m. */
static inline size_t twin_work_size(const twin_model *m, int method)
{
    size_t n = (size_t)m->nx, mw = (size_t)m->model_work;
    switch (method) {
    case TWIN_METHOD_RK4: return 5 * n + mw;
    case TWIN_METHOD_DOPRI5: return 9 * n + mw;
    default: return 24 * n + (size_t)m->jac_nnz + twin_band_ld(m) * n + mw;
    }
}

/* Ints of work memory a method needs (pivots of the banded LU). */
static inline size_t twin_iwork_size(const twin_model *m, int method)
{
    return method == TWIN_METHOD_BDF ? (size_t)m->nx : 0;
}

static inline void twin_stats_init(twin_stats *st, double h0)
{
    memset(st, 0, sizeof(*st));
    st->h = h0;
}

/* Root-mean-square of v / scale. */
static inline double twin_rms(int n, const double *v, const double *scale)
{
    double s = 0.0;
    for (int i = 0; i < n; ++i) {
        double r = v[i] / scale[i];
        s += r * r;
    }
    return n > 0 ? sqrt(s / n) : 0.0;
}

static inline int twin_all_finite(int n, const double *v)
{
    for (int i = 0; i < n; ++i)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static inline int twin_eval_rhs(const twin_model *m, const double *x, const double *u,
                                const double *p, double *out, double *mw, twin_stats *st)
{
    st->rhs_evals++;
    if (m->rhs(x, u, p, out, mw)) return TWIN_EVAL_FAILED;
    return twin_all_finite(m->nx, out) ? TWIN_OK : TWIN_EVAL_FAILED;
}

/* ---------------------------------------------------------------- RK4 */

/* n_steps classical RK4 steps of size h, in place. */
static int twin_rk4(const twin_model *m, double *x, const double *u, const double *p,
                    double h, long n_steps, double *work, twin_stats *st)
{
    const int n = m->nx;
    double *k1 = work, *k2 = k1 + n, *k3 = k2 + n, *k4 = k3 + n, *tmp = k4 + n, *mw = tmp + n;
    const double hh = 0.5 * h, h6 = h / 6.0;
    for (long s = 0; s < n_steps; ++s) {
        if (m->rhs(x, u, p, k1, mw)) return TWIN_EVAL_FAILED;
        for (int i = 0; i < n; ++i) tmp[i] = x[i] + hh * k1[i];
        if (m->rhs(tmp, u, p, k2, mw)) return TWIN_EVAL_FAILED;
        for (int i = 0; i < n; ++i) tmp[i] = x[i] + hh * k2[i];
        if (m->rhs(tmp, u, p, k3, mw)) return TWIN_EVAL_FAILED;
        for (int i = 0; i < n; ++i) tmp[i] = x[i] + h * k3[i];
        if (m->rhs(tmp, u, p, k4, mw)) return TWIN_EVAL_FAILED;
        for (int i = 0; i < n; ++i) x[i] += h6 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    st->steps += n_steps;
    st->rhs_evals += 4 * n_steps;
    st->order = 4;
    return twin_all_finite(n, x) ? TWIN_OK : TWIN_EVAL_FAILED;
}

/* ------------------------------------------------------ initial step */

/* Hairer, Norsett & Wanner (1993), Sec. II.4: a first step for a method of order `order`. */
static double twin_initial_step(const twin_model *m, const double *x, const double *u,
                                const double *p, const double *f0, double T, int order,
                                double rtol, double atol, double *y1, double *f1,
                                double *scale, double *mw, twin_stats *st)
{
    const int n = m->nx;
    for (int i = 0; i < n; ++i) scale[i] = atol + fabs(x[i]) * rtol;
    double d0 = twin_rms(n, x, scale), d1 = twin_rms(n, f0, scale);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    if (h0 > T) h0 = T;
    for (int i = 0; i < n; ++i) y1[i] = x[i] + h0 * f0[i];
    if (twin_eval_rhs(m, y1, u, p, f1, mw, st) != TWIN_OK) return h0;
    for (int i = 0; i < n; ++i) y1[i] = f1[i] - f0[i];
    double d2 = twin_rms(n, y1, scale) / h0;
    double dmax = d1 > d2 ? d1 : d2;
    double h1 = (dmax <= 1e-15) ? fmax(1e-6, h0 * 1e-3) : pow(0.01 / dmax, 1.0 / (order + 1));
    double h = 100.0 * h0;
    if (h1 < h) h = h1;
    if (T < h) h = T;
    return h;
}

/* ----------------------------------------------------------- DOPRI5 */

static const double twin_dp_a21 = 1.0 / 5.0;
static const double twin_dp_a31 = 3.0 / 40.0, twin_dp_a32 = 9.0 / 40.0;
static const double twin_dp_a41 = 44.0 / 45.0, twin_dp_a42 = -56.0 / 15.0, twin_dp_a43 = 32.0 / 9.0;
static const double twin_dp_a51 = 19372.0 / 6561.0, twin_dp_a52 = -25360.0 / 2187.0,
                    twin_dp_a53 = 64448.0 / 6561.0, twin_dp_a54 = -212.0 / 729.0;
static const double twin_dp_a61 = 9017.0 / 3168.0, twin_dp_a62 = -355.0 / 33.0,
                    twin_dp_a63 = 46732.0 / 5247.0, twin_dp_a64 = 49.0 / 176.0,
                    twin_dp_a65 = -5103.0 / 18656.0;
static const double twin_dp_b1 = 35.0 / 384.0, twin_dp_b3 = 500.0 / 1113.0,
                    twin_dp_b4 = 125.0 / 192.0, twin_dp_b5 = -2187.0 / 6784.0,
                    twin_dp_b6 = 11.0 / 84.0;
/* b - bhat: the local error estimate */
static const double twin_dp_e1 = 71.0 / 57600.0, twin_dp_e3 = -71.0 / 16695.0,
                    twin_dp_e4 = 71.0 / 1920.0, twin_dp_e5 = -17253.0 / 339200.0,
                    twin_dp_e6 = 22.0 / 525.0, twin_dp_e7 = -1.0 / 40.0;

/* Adaptive Dormand-Prince 5(4) from 0 to T, in place. */
static int twin_dopri5(const twin_model *m, double *x, const double *u, const double *p,
                       double T, double rtol, double atol, long max_steps, double *work,
                       twin_stats *st)
{
    const int n = m->nx;
    double *k1 = work, *k2 = k1 + n, *k3 = k2 + n, *k4 = k3 + n, *k5 = k4 + n, *k6 = k5 + n,
           *k7 = k6 + n, *yn = k7 + n, *tmp = yn + n, *mw = tmp + n;
    st->order = 5;
    if (!(T > 0.0)) return TWIN_OK;
    if (twin_eval_rhs(m, x, u, p, k1, mw, st) != TWIN_OK) return TWIN_EVAL_FAILED;
    double h = st->h;
    if (!(h > 0.0)) h = twin_initial_step(m, x, u, p, k1, T, 5, rtol, atol, yn, k2, tmp, mw, st);
    double t = 0.0;
    int rejected_last = 0, nonfinite = 0;
    long attempts = 0;
    while (t < T) {
        if (attempts++ >= max_steps) { st->h = h; return TWIN_MAX_STEPS; }
        double h_min = 16.0 * DBL_EPSILON * fmax(fabs(t), T);
        if (h < h_min) { st->h = h; return nonfinite ? TWIN_EVAL_FAILED : TWIN_STEP_TOO_SMALL; }
        double hs = h;
        int last = 0;
        if (t + h >= T) { hs = T - t; last = 1; }
        int bad = 0;
        for (int i = 0; i < n; ++i) tmp[i] = x[i] + hs * (twin_dp_a21 * k1[i]);
        bad |= twin_eval_rhs(m, tmp, u, p, k2, mw, st);
        for (int i = 0; i < n; ++i) tmp[i] = x[i] + hs * (twin_dp_a31 * k1[i] + twin_dp_a32 * k2[i]);
        bad |= twin_eval_rhs(m, tmp, u, p, k3, mw, st);
        for (int i = 0; i < n; ++i)
            tmp[i] = x[i] + hs * (twin_dp_a41 * k1[i] + twin_dp_a42 * k2[i] + twin_dp_a43 * k3[i]);
        bad |= twin_eval_rhs(m, tmp, u, p, k4, mw, st);
        for (int i = 0; i < n; ++i)
            tmp[i] = x[i] + hs * (twin_dp_a51 * k1[i] + twin_dp_a52 * k2[i] + twin_dp_a53 * k3[i]
                                  + twin_dp_a54 * k4[i]);
        bad |= twin_eval_rhs(m, tmp, u, p, k5, mw, st);
        for (int i = 0; i < n; ++i)
            tmp[i] = x[i] + hs * (twin_dp_a61 * k1[i] + twin_dp_a62 * k2[i] + twin_dp_a63 * k3[i]
                                  + twin_dp_a64 * k4[i] + twin_dp_a65 * k5[i]);
        bad |= twin_eval_rhs(m, tmp, u, p, k6, mw, st);
        for (int i = 0; i < n; ++i)
            yn[i] = x[i] + hs * (twin_dp_b1 * k1[i] + twin_dp_b3 * k3[i] + twin_dp_b4 * k4[i]
                                 + twin_dp_b5 * k5[i] + twin_dp_b6 * k6[i]);
        bad |= twin_eval_rhs(m, yn, u, p, k7, mw, st);
        double err;
        if (bad) {
            err = NAN;
        } else {
            for (int i = 0; i < n; ++i) {
                tmp[i] = hs * (twin_dp_e1 * k1[i] + twin_dp_e3 * k3[i] + twin_dp_e4 * k4[i]
                               + twin_dp_e5 * k5[i] + twin_dp_e6 * k6[i] + twin_dp_e7 * k7[i]);
                k2[i] = atol + rtol * fmax(fabs(x[i]), fabs(yn[i]));  /* k2 reused as scale */
            }
            err = twin_rms(n, tmp, k2);
        }
        if (!isfinite(err)) {
            nonfinite = 1;
            st->rejected++;
            rejected_last = 1;
            h = 0.2 * hs;
            continue;
        }
        if (err <= 1.0) {
            double fac = err == 0.0 ? 10.0 : 0.9 * pow(err, -0.2);
            double fac_max = rejected_last ? 1.0 : 10.0;
            if (fac > fac_max) fac = fac_max;
            if (fac < 0.2) fac = 0.2;
            t = last ? T : t + hs;
            memcpy(x, yn, (size_t)n * sizeof(double));
            double *swap = k1; k1 = k7; k7 = swap;   /* first same as last */
            st->steps++;
            rejected_last = 0;
            if (!(last && hs < h)) h = hs * fac;  /* a clipped last step keeps the proposal */
        } else {
            double fac = 0.9 * pow(err, -0.2);
            if (fac < 0.2) fac = 0.2;
            h = hs * fac;
            st->rejected++;
            rejected_last = 1;
        }
    }
    st->h = h;
    return TWIN_OK;
}

/* ------------------------------------------------- banded LU (LAPACK gbtf2/gbtrs) */

/* A(i, j) of an n x n band matrix with kl sub- and ku super-diagonals is stored at
 * ab[(kl + ku + i - j) + j * ldab], ldab >= 2 kl + ku + 1; the top kl rows take fill-in.
 * Factor with partial pivoting; returns 0, or j + 1 when U(j, j) is exactly zero. */
static int twin_band_lu(int n, int kl, int ku, double *ab, size_t ldab, int *ipiv)
{
    const int kv = kl + ku;
    int info = 0, ju = 0;
    for (int j = 0; j < n; ++j) {
        const int km = kl < n - 1 - j ? kl : n - 1 - j;
        double *col = ab + (size_t)j * ldab + kv;  /* col[q] = A(j + q, j) */
        int jp = 0;
        double amax = fabs(col[0]);
        for (int q = 1; q <= km; ++q)
            if (fabs(col[q]) > amax) { amax = fabs(col[q]); jp = q; }
        ipiv[j] = j + jp;
        if (col[jp] == 0.0) {
            if (info == 0) info = j + 1;
            continue;
        }
        int lim = j + ku + jp;
        if (lim > n - 1) lim = n - 1;
        if (lim > ju) ju = lim;
        if (jp != 0) {
            for (int c = j; c <= ju; ++c) {
                double *a = ab + (size_t)c * ldab + kv + j - c;  /* A(j, c) */
                double t = a[0]; a[0] = a[jp]; a[jp] = t;
            }
        }
        if (km > 0) {
            const double r = 1.0 / col[0];
            for (int q = 1; q <= km; ++q) col[q] *= r;
            for (int c = j + 1; c <= ju; ++c) {
                double *a = ab + (size_t)c * ldab + kv + j - c;  /* A(j, c) */
                const double ajc = a[0];
                if (ajc != 0.0)
                    for (int q = 1; q <= km; ++q) a[q] -= col[q] * ajc;
            }
        }
    }
    return info;
}

/* Solve A x = b in place with the factors of twin_band_lu. */
static void twin_band_solve(int n, int kl, int ku, const double *ab, size_t ldab,
                            const int *ipiv, double *b)
{
    const int kv = kl + ku;
    if (kl > 0) {
        for (int j = 0; j < n - 1; ++j) {
            const int lm = kl < n - 1 - j ? kl : n - 1 - j;
            const int l = ipiv[j];
            if (l != j) { double t = b[l]; b[l] = b[j]; b[j] = t; }
            const double *col = ab + (size_t)j * ldab + kv;
            const double bj = b[j];
            for (int q = 1; q <= lm; ++q) b[j + q] -= col[q] * bj;
        }
    }
    for (int j = n - 1; j >= 0; --j) {
        const double *colj = ab + (size_t)j * ldab;
        if (b[j] != 0.0) {
            b[j] /= colj[kv];
            const double bj = b[j];
            const int i0 = j - kv > 0 ? j - kv : 0;
            for (int i = i0; i < j; ++i) b[i] -= bj * colj[kv + i - j];
        }
    }
}

/* -------------------------------------------------------------- BDF */

static const double twin_bdf_kappa[TWIN_BDF_MAX_ORDER + 1] = {0.0, -0.1850, -1.0 / 9.0,
                                                              -0.0823, -0.0415, 0.0};

typedef struct {
    double gamma[TWIN_BDF_MAX_ORDER + 1];
    double alpha[TWIN_BDF_MAX_ORDER + 1];
    double error_const[TWIN_BDF_MAX_ORDER + 1];
} twin_bdf_coeffs;

static void twin_bdf_init_coeffs(twin_bdf_coeffs *c)
{
    c->gamma[0] = 0.0;
    for (int k = 1; k <= TWIN_BDF_MAX_ORDER; ++k) c->gamma[k] = c->gamma[k - 1] + 1.0 / k;
    for (int k = 0; k <= TWIN_BDF_MAX_ORDER; ++k) {
        c->alpha[k] = (1.0 - twin_bdf_kappa[k]) * c->gamma[k];
        c->error_const[k] = twin_bdf_kappa[k] * c->gamma[k] + 1.0 / (k + 1);
    }
}

/* R(order, factor) of the step-size change of the difference array, row-major (order+1)^2. */
static void twin_bdf_R(int order, double factor, double *R)
{
    const int s = order + 1;
    for (int j = 0; j < s; ++j) R[j] = 1.0;
    for (int i = 1; i < s; ++i)
        for (int j = 0; j < s; ++j)
            R[i * s + j] = R[(i - 1) * s + j] * (j == 0 ? 0.0 : (i - 1 - factor * j) / (double)i);
}

/* Rescale the backward differences D[0..order] (rows of length n) for h -> factor h. */
static void twin_bdf_change_D(double *D, int n, int order, double factor, double *tmp)
{
    const int s = order + 1;
    double R[36], U[36], RU[36];
    twin_bdf_R(order, factor, R);
    twin_bdf_R(order, 1.0, U);
    for (int i = 0; i < s; ++i)
        for (int j = 0; j < s; ++j) {
            double acc = 0.0;
            for (int k = 0; k < s; ++k) acc += R[i * s + k] * U[k * s + j];
            RU[i * s + j] = acc;
        }
    for (int k = 0; k < s; ++k)
        for (int q = 0; q < n; ++q) {
            double acc = 0.0;
            for (int i = 0; i < s; ++i) acc += RU[i * s + k] * D[(size_t)i * n + q];
            tmp[(size_t)k * n + q] = acc;
        }
    memcpy(D, tmp, (size_t)s * n * sizeof(double));
}

/* Assemble I - c J (permuted, banded) from the Jacobian nonzeros and factor it. */
static int twin_bdf_factor(const twin_model *m, double c, const double *jnz, double *ab, int *ipiv)
{
    const int n = m->nx, kv = m->kl + m->ku;
    const size_t ld = twin_band_ld(m);
    memset(ab, 0, ld * (size_t)n * sizeof(double));
    for (int k = 0; k < m->jac_nnz; ++k) {
        const int i = m->jac_row[k], j = m->jac_col[k];
        ab[(size_t)(kv + i - j) + (size_t)j * ld] -= c * jnz[k];
    }
    for (int j = 0; j < n; ++j) ab[(size_t)kv + (size_t)j * ld] += 1.0;
    return twin_band_lu(n, m->kl, m->ku, ab, ld, ipiv);
}

static void twin_bdf_solve(const twin_model *m, const double *ab, const int *ipiv, double *b,
                           double *tmp)
{
    const int n = m->nx;
    for (int i = 0; i < n; ++i) tmp[i] = b[m->perm[i]];
    twin_band_solve(n, m->kl, m->ku, ab, twin_band_ld(m), ipiv, tmp);
    for (int i = 0; i < n; ++i) b[m->perm[i]] = tmp[i];
}

/* Simplified Newton for y = y_pred + d with c f(y) - psi - d = 0; returns 1 when converged. */
static int twin_bdf_newton(const twin_model *m, const double *u, const double *p,
                           const double *y_pred, double c, const double *psi, const double *ab,
                           const int *ipiv, const double *scale, double tol, double *y,
                           double *d, double *dy, double *f, double *tmp, double *mw,
                           twin_stats *st, int *n_iter)
{
    const int n = m->nx;
    memcpy(y, y_pred, (size_t)n * sizeof(double));
    memset(d, 0, (size_t)n * sizeof(double));
    double dy_norm_old = -1.0;
    int converged = 0, k;
    for (k = 0; k < TWIN_NEWTON_MAXITER; ++k) {
        if (twin_eval_rhs(m, y, u, p, f, mw, st) != TWIN_OK) break;
        for (int i = 0; i < n; ++i) dy[i] = c * f[i] - psi[i] - d[i];
        twin_bdf_solve(m, ab, ipiv, dy, tmp);
        const double dy_norm = twin_rms(n, dy, scale);
        const double rate = dy_norm_old < 0.0 ? -1.0 : dy_norm / dy_norm_old;
        if (rate >= 0.0 &&
            (rate >= 1.0 || pow(rate, TWIN_NEWTON_MAXITER - k) / (1.0 - rate) * dy_norm > tol))
            break;
        for (int i = 0; i < n; ++i) { y[i] += dy[i]; d[i] += dy[i]; }
        if (dy_norm == 0.0 || (rate >= 0.0 && rate / (1.0 - rate) * dy_norm < tol)) {
            converged = 1;
            break;
        }
        dy_norm_old = dy_norm;
    }
    *n_iter = k + 1 > TWIN_NEWTON_MAXITER ? TWIN_NEWTON_MAXITER : k + 1;
    return converged;
}

/* Adaptive variable-order BDF from 0 to T, in place. */
static int twin_bdf(const twin_model *m, double *x, const double *u, const double *p, double T,
                    double rtol, double atol, long max_steps, double *work, int *iwork,
                    twin_stats *st)
{
    const int n = m->nx;
    const size_t nn = (size_t)n;
    double *D = work;                                     /* (MAX_ORDER + 3) x n */
    double *Dt = D + (TWIN_BDF_MAX_ORDER + 3) * nn;       /* (MAX_ORDER + 1) x n */
    double *y_pred = Dt + (TWIN_BDF_MAX_ORDER + 1) * nn, *psi = y_pred + nn, *d = psi + nn,
           *dy = d + nn, *scale = dy + nn, *f = scale + nn, *y_new = f + nn, *tmp = y_new + nn,
           *err = tmp + nn, *tmp2 = err + nn;
    double *jnz = tmp2 + nn;
    double *ab = jnz + m->jac_nnz;
    double *mw = ab + twin_band_ld(m) * nn;
    int *ipiv = iwork;
    twin_bdf_coeffs co;
    twin_bdf_init_coeffs(&co);
    const double newton_tol = fmax(10.0 * DBL_EPSILON / rtol, fmin(0.03, sqrt(rtol)));

    st->order = 1;
    if (!(T > 0.0)) return TWIN_OK;
    if (twin_eval_rhs(m, x, u, p, f, mw, st) != TWIN_OK) return TWIN_EVAL_FAILED;
    double h = st->h;
    if (!(h > 0.0)) h = twin_initial_step(m, x, u, p, f, T, 1, rtol, atol, y_new, tmp, scale, mw, st);
    if (h > T) h = T;
    memset(D, 0, (TWIN_BDF_MAX_ORDER + 3) * nn * sizeof(double));
    memcpy(D, x, nn * sizeof(double));
    for (int i = 0; i < n; ++i) D[nn + i] = h * f[i];
    int order = 1, n_equal = 0, lu_valid = 0, current_jac = 1, nonfinite = 0;
    st->jac_evals++;
    if (m->jac(x, u, p, jnz, mw) || !twin_all_finite(m->jac_nnz, jnz)) return TWIN_EVAL_FAILED;
    double t = 0.0;
    long attempts = 0;

    while (t < T) {
        const double min_step = 10.0 * (nextafter(t, INFINITY) - t);
        int accepted = 0, n_iter = 0;
        double error_norm = 0.0, safety = 0.9;
        while (!accepted) {
            if (attempts++ >= max_steps) { st->h = h; st->order = order; return TWIN_MAX_STEPS; }
            if (h < min_step) {
                st->h = h; st->order = order;
                return nonfinite ? TWIN_EVAL_FAILED : TWIN_STEP_TOO_SMALL;
            }
            double t_new = t + h;
            if (t_new >= T) {
                if (t_new > T) {
                    twin_bdf_change_D(D, n, order, (T - t) / h, Dt);
                    n_equal = 0;
                    lu_valid = 0;
                }
                t_new = T;
            }
            h = t_new - t;
            for (int i = 0; i < n; ++i) {
                double s = 0.0;
                for (int k = 0; k <= order; ++k) s += D[(size_t)k * nn + i];
                y_pred[i] = s;
                scale[i] = atol + rtol * fabs(s);
                double ps = 0.0;
                for (int k = 1; k <= order; ++k) ps += co.gamma[k] * D[(size_t)k * nn + i];
                psi[i] = ps / co.alpha[order];
            }
            const double c = h / co.alpha[order];
            int converged = 0;
            for (;;) {
                if (!lu_valid) {
                    st->lu_decomps++;
                    lu_valid = twin_bdf_factor(m, c, jnz, ab, ipiv) == 0;
                }
                if (lu_valid)
                    converged = twin_bdf_newton(m, u, p, y_pred, c, psi, ab, ipiv, scale,
                                                newton_tol, y_new, d, dy, f, tmp, mw, st, &n_iter);
                if (converged || current_jac) break;
                st->jac_evals++;
                if (m->jac(y_pred, u, p, jnz, mw) || !twin_all_finite(m->jac_nnz, jnz)) {
                    nonfinite = 1;
                    break;
                }
                current_jac = 1;
                lu_valid = 0;
            }
            if (!converged) {
                if (!twin_all_finite(n, f)) nonfinite = 1;
                h *= 0.5;
                twin_bdf_change_D(D, n, order, 0.5, Dt);
                n_equal = 0;
                lu_valid = 0;
                st->rejected++;
                continue;
            }
            safety = 0.9 * (2 * TWIN_NEWTON_MAXITER + 1) / (double)(2 * TWIN_NEWTON_MAXITER + n_iter);
            for (int i = 0; i < n; ++i) {
                scale[i] = atol + rtol * fabs(y_new[i]);
                err[i] = co.error_const[order] * d[i];
            }
            error_norm = twin_rms(n, err, scale);
            if (!(error_norm <= 1.0)) {
                double factor = safety * pow(error_norm, -1.0 / (order + 1));
                if (!(factor >= 0.2)) factor = 0.2;
                h *= factor;
                twin_bdf_change_D(D, n, order, factor, Dt);
                n_equal = 0;
                st->rejected++;
            } else {
                accepted = 1;
            }
        }
        st->steps++;
        n_equal++;
        t = (t + h >= T) ? T : t + h;
        memcpy(x, y_new, nn * sizeof(double));
        current_jac = 0;
        for (int i = 0; i < n; ++i) {
            D[(size_t)(order + 2) * nn + i] = d[i] - D[(size_t)(order + 1) * nn + i];
            D[(size_t)(order + 1) * nn + i] = d[i];
        }
        for (int k = order; k >= 0; --k)
            for (int i = 0; i < n; ++i) D[(size_t)k * nn + i] += D[(size_t)(k + 1) * nn + i];
        if (n_equal < order + 1) continue;

        double em = INFINITY, ep = INFINITY;
        if (order > 1) {
            for (int i = 0; i < n; ++i) err[i] = co.error_const[order - 1] * D[(size_t)order * nn + i];
            em = twin_rms(n, err, scale);
        }
        if (order < TWIN_BDF_MAX_ORDER) {
            for (int i = 0; i < n; ++i)
                err[i] = co.error_const[order + 1] * D[(size_t)(order + 2) * nn + i];
            ep = twin_rms(n, err, scale);
        }
        const double fm = em == 0.0 ? INFINITY : pow(em, -1.0 / order);
        const double f0 = error_norm == 0.0 ? INFINITY : pow(error_norm, -1.0 / (order + 1));
        const double fp = ep == 0.0 ? INFINITY : pow(ep, -1.0 / (order + 2));
        int delta = 0;
        double best = f0;
        if (fm > best) { best = fm; delta = -1; }
        if (fp > best) { best = fp; delta = 1; }
        order += delta;
        double factor = safety * best;
        if (factor > 10.0) factor = 10.0;
        h *= factor;
        twin_bdf_change_D(D, n, order, factor, Dt);
        n_equal = 0;
        lu_valid = 0;
    }
    st->h = h;
    st->order = order;
    return TWIN_OK;
}

/* One call for any method: RK4 uses T / n_sub steps (n_sub >= 1). */
static int twin_integrate(const twin_model *m, int method, double *x, const double *u,
                          const double *p, double T, double rtol, double atol, long n_sub,
                          long max_steps, double *work, int *iwork, twin_stats *st)
{
    switch (method) {
    case TWIN_METHOD_RK4: return twin_rk4(m, x, u, p, T / (double)n_sub, n_sub, work, st);
    case TWIN_METHOD_DOPRI5: return twin_dopri5(m, x, u, p, T, rtol, atol, max_steps, work, st);
    default: return twin_bdf(m, x, u, p, T, rtol, atol, max_steps, work, iwork, st);
    }
}

#endif /* TWIN_INTEGRATORS_H */
