/*
 * Hand-written C RK4 of the Van de Vusse CSTR: the physical-limit baseline
 * of the rk4_cstr benchmark. Same equations and parameter vector as
 * plant_models/cstr.py; the harness checks the parameter order below
 * against the model and compiles this file with -O2.
 */
#include <math.h>

const char *cstr_parameter_order =
    "k0_ab,k0_bc,k0_ad,E_ab,E_bc,E_ad,H_ab,H_bc,H_ad,rho,c_p,c_pk,A_R,V_R,m_k,k_w,T_in,C_A0,alpha,beta";

enum { K0_AB, K0_BC, K0_AD, E_AB, E_BC, E_AD, H_AB, H_BC, H_AD, RHO, C_P, C_PK, A_R, V_R, M_K,
       K_W, T_IN, C_A0, ALPHA, BETA };

static void cstr_rhs(const double *x, const double *u, const double *p, double *dx)
{
    const double C_a = x[0], C_b = x[1], T_R = x[2], T_K = x[3];
    const double F = u[0], Q_dot = u[1];
    const double T_abs = T_R + 273.15;
    const double K_1 = p[BETA] * p[K0_AB] * exp(-p[E_AB] / T_abs);
    const double K_2 = p[K0_BC] * exp(-p[E_BC] / T_abs);
    const double K_3 = p[K0_AD] * exp(-p[ALPHA] * p[E_AD] / T_abs);
    const double heat = K_1 * C_a * p[H_AB] + K_2 * C_b * p[H_BC] + K_3 * C_a * C_a * p[H_AD];
    dx[0] = F * (p[C_A0] - C_a) - K_1 * C_a - K_3 * C_a * C_a;
    dx[1] = -F * C_b + K_1 * C_a - K_2 * C_b;
    dx[2] = heat / (-p[RHO] * p[C_P]) + F * (p[T_IN] - T_R)
            + p[K_W] * p[A_R] * (T_K - T_R) / (p[RHO] * p[C_P] * p[V_R]);
    dx[3] = (Q_dot + p[K_W] * p[A_R] * (T_R - T_K)) / (p[M_K] * p[C_PK]);
}

/* n RK4 steps of size h, in place. */
void cstr_rk4(double *x, const double *u, const double *p, double h, long n)
{
    double k1[4], k2[4], k3[4], k4[4], tmp[4];
    for (long s = 0; s < n; ++s) {
        cstr_rhs(x, u, p, k1);
        for (int i = 0; i < 4; ++i) tmp[i] = x[i] + 0.5 * h * k1[i];
        cstr_rhs(tmp, u, p, k2);
        for (int i = 0; i < 4; ++i) tmp[i] = x[i] + 0.5 * h * k2[i];
        cstr_rhs(tmp, u, p, k3);
        for (int i = 0; i < 4; ++i) tmp[i] = x[i] + h * k3[i];
        cstr_rhs(tmp, u, p, k4);
        for (int i = 0; i < 4; ++i) x[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
}
