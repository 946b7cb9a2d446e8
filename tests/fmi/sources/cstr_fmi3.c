/* The Van de Vusse CSTR as an FMI 3.0 FMU (Model Exchange and Co-Simulation).
 *
 * A third implementation of the equations of Klatt & Engell (1998) in the
 * parameterisation of do-mpc's CSTR example, written directly against the
 * FMI 3.0 headers that fmpy ships, so that the tests have an FMI 3.0 FMU
 * from a source other than our exporter. Co-Simulation steps with classic
 * RK4 of at most `max_step` hours.
 *
 * Fault injection for the tests (parameter `fault`, from time `fault_time`):
 * 1 = fmi3DoStep / derivatives return fmi3Error, 2 = states become NaN,
 * 3 = the FMU crashes (SIGSEGV), 4 = fmi3DoStep never returns. With EVENT_INDICATOR defined, the model
 * declares one event indicator (T_R - 140), to test the refusal of
 * Model Exchange FMUs with state events.
 */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmi3Functions.h"

enum { VR_TIME, VR_CA, VR_CB, VR_TR, VR_TK, VR_DCA, VR_DCB, VR_DTR, VR_DTK, VR_F, VR_Q,
       VR_ALPHA, VR_BETA, VR_TIN, VR_FAULT, VR_FAULT_TIME, VR_MAX_STEP, VR_TDIF, N_VR };
#define NX 4

typedef struct {
    double t;
    double x[NX];
    double v[N_VR]; /* inputs and parameters by value reference */
} State;

typedef struct {
    State s;
    int cs;
    fmi3LogMessageCallback log;
    fmi3InstanceEnvironment env;
} Instance;

static const double START[N_VR] = {
    [VR_CA] = 0.8, [VR_CB] = 0.5, [VR_TR] = 134.14, [VR_TK] = 130.0,
    [VR_F] = 14.19, [VR_Q] = -1113.5, [VR_ALPHA] = 1.0, [VR_BETA] = 1.0, [VR_TIN] = 130.0,
    [VR_FAULT] = 0.0, [VR_FAULT_TIME] = 0.0, [VR_MAX_STEP] = 1e-4};

static void say(Instance *c, fmi3Status status, const char *msg)
{
    if (c->log) c->log(c->env, status, status == fmi3OK ? "logAll" : "logStatusError", msg);
}

static int faulty(const Instance *c, double kind)
{
    return c->s.v[VR_FAULT] == kind && c->s.t >= c->s.v[VR_FAULT_TIME];
}

static void rhs(const State *s, const double *x, double *dx)
{
    const double k0_ab = 1.287e12, k0_bc = 1.287e12, k0_ad = 9.043e9;
    const double E_ab = 9758.3, E_bc = 9758.3, E_ad = 8560.0;
    const double H_ab = 4.2, H_bc = -11.0, H_ad = -41.85;
    const double rho = 0.9342, c_p = 3.01, c_pk = 2.0, A_R = 0.215, V_R = 10.01, m_k = 5.0;
    const double k_w = 4032.0, C_A0 = 5.1;
    double F = s->v[VR_F], Q = s->v[VR_Q];
    double T = x[2] + 273.15;
    double k1 = s->v[VR_BETA] * k0_ab * exp(-E_ab / T);
    double k2 = k0_bc * exp(-E_bc / T);
    double k3 = k0_ad * exp(-s->v[VR_ALPHA] * E_ad / T);
    double heat = k1 * x[0] * H_ab + k2 * x[1] * H_bc + k3 * x[0] * x[0] * H_ad;
    dx[0] = F * (C_A0 - x[0]) - k1 * x[0] - k3 * x[0] * x[0];
    dx[1] = -F * x[1] + k1 * x[0] - k2 * x[1];
    dx[2] = -heat / (rho * c_p) + F * (s->v[VR_TIN] - x[2])
            + k_w * A_R * (x[3] - x[2]) / (rho * c_p * V_R);
    dx[3] = (Q + k_w * A_R * (x[2] - x[3])) / (m_k * c_pk);
}

static void rk4(State *s, double h)
{
    double k1[NX], k2[NX], k3[NX], k4[NX], y[NX];
    rhs(s, s->x, k1);
    for (int i = 0; i < NX; ++i) y[i] = s->x[i] + 0.5 * h * k1[i];
    rhs(s, y, k2);
    for (int i = 0; i < NX; ++i) y[i] = s->x[i] + 0.5 * h * k2[i];
    rhs(s, y, k3);
    for (int i = 0; i < NX; ++i) y[i] = s->x[i] + h * k3[i];
    rhs(s, y, k4);
    for (int i = 0; i < NX; ++i) s->x[i] += h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
}

static fmi3Instance instantiate(fmi3String name, fmi3String token, fmi3InstanceEnvironment env,
                                fmi3LogMessageCallback log, int cs)
{
    (void)name;
    if (strcmp(token, "{5d6a1f1c-4a5e-4d1e-9a57-cstr-fmi3-test}") != 0) {
        if (log) log(env, fmi3Error, "logStatusError", "wrong instantiation token");
        return NULL;
    }
    Instance *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cs = cs;
    c->log = log;
    c->env = env;
    memcpy(c->s.v, START, sizeof START);
    for (int i = 0; i < NX; ++i) c->s.x[i] = START[VR_CA + i];
    return c;
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String name, fmi3String token, fmi3String res,
                                          fmi3Boolean visible, fmi3Boolean logging,
                                          fmi3InstanceEnvironment env, fmi3LogMessageCallback log)
{
    (void)res; (void)visible; (void)logging;
    return instantiate(name, token, env, log, 0);
}

fmi3Instance fmi3InstantiateCoSimulation(fmi3String name, fmi3String token, fmi3String res,
                                         fmi3Boolean visible, fmi3Boolean logging,
                                         fmi3Boolean eventModeUsed, fmi3Boolean earlyReturn,
                                         const fmi3ValueReference req[], size_t nReq,
                                         fmi3InstanceEnvironment env, fmi3LogMessageCallback log,
                                         fmi3IntermediateUpdateCallback update)
{
    (void)res; (void)visible; (void)logging; (void)eventModeUsed; (void)earlyReturn;
    (void)req; (void)nReq; (void)update;
    return instantiate(name, token, env, log, 1);
}

void fmi3FreeInstance(fmi3Instance inst) { free(inst); }

const char *fmi3GetVersion(void) { return fmi3Version; }

fmi3Status fmi3SetDebugLogging(fmi3Instance i, fmi3Boolean on, size_t n, const fmi3String c[])
{ (void)i; (void)on; (void)n; (void)c; return fmi3OK; }

fmi3Status fmi3EnterInitializationMode(fmi3Instance inst, fmi3Boolean tolDef, fmi3Float64 tol,
                                       fmi3Float64 start, fmi3Boolean stopDef, fmi3Float64 stop)
{
    (void)tolDef; (void)tol; (void)stopDef; (void)stop;
    ((Instance *)inst)->s.t = start;
    return fmi3OK;
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance inst) { (void)inst; return fmi3OK; }
fmi3Status fmi3EnterEventMode(fmi3Instance inst) { (void)inst; return fmi3OK; }
fmi3Status fmi3Terminate(fmi3Instance inst) { (void)inst; return fmi3OK; }

fmi3Status fmi3Reset(fmi3Instance inst)
{
    Instance *c = inst;
    memcpy(c->s.v, START, sizeof START);
    for (int i = 0; i < NX; ++i) c->s.x[i] = START[VR_CA + i];
    c->s.t = 0.0;
    return fmi3OK;
}

fmi3Status fmi3GetFloat64(fmi3Instance inst, const fmi3ValueReference vr[], size_t n,
                          fmi3Float64 values[], size_t nValues)
{
    Instance *c = inst;
    double dx[NX];
    (void)nValues;
    if (faulty(c, 3)) raise(SIGSEGV);
    rhs(&c->s, c->s.x, dx);
    for (size_t k = 0; k < n; ++k) {
        fmi3ValueReference r = vr[k];
        if (r == VR_TIME) values[k] = c->s.t;
        else if (r >= VR_CA && r <= VR_TK) values[k] = c->s.x[r - VR_CA];
        else if (r >= VR_DCA && r <= VR_DTK) values[k] = dx[r - VR_DCA];
        else if (r == VR_TDIF) values[k] = c->s.x[2] - c->s.x[3];
        else if (r < N_VR) values[k] = c->s.v[r];
        else {
            say(c, fmi3Error, "unknown value reference");
            return fmi3Error;
        }
    }
    return fmi3OK;
}

fmi3Status fmi3SetFloat64(fmi3Instance inst, const fmi3ValueReference vr[], size_t n,
                          const fmi3Float64 values[], size_t nValues)
{
    Instance *c = inst;
    (void)nValues;
    for (size_t k = 0; k < n; ++k) {
        fmi3ValueReference r = vr[k];
        if (r >= VR_CA && r <= VR_TK) c->s.x[r - VR_CA] = values[k];
        else if (r >= VR_F && r <= VR_MAX_STEP) c->s.v[r] = values[k];
        else {
            say(c, fmi3Error, "value reference cannot be set");
            return fmi3Error;
        }
    }
    return fmi3OK;
}

fmi3Status fmi3DoStep(fmi3Instance inst, fmi3Float64 t, fmi3Float64 h, fmi3Boolean noSet,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminate,
                      fmi3Boolean *earlyReturn, fmi3Float64 *lastTime)
{
    Instance *c = inst;
    (void)noSet;
    *eventHandlingNeeded = fmi3False;
    *terminate = fmi3False;
    *earlyReturn = fmi3False;
    *lastTime = t;
    if (faulty(c, 3)) raise(SIGSEGV);
    while (faulty(c, 4)) sleep(1);
    if (faulty(c, 1)) {
        char msg[128];
        snprintf(msg, sizeof msg, "injected failure in fmi3DoStep at t = %g", t);
        say(c, fmi3Error, msg);
        return fmi3Error;
    }
    int n = (int)ceil(h / c->s.v[VR_MAX_STEP] - 1e-9);
    if (n < 1) n = 1;
    for (int k = 0; k < n; ++k) rk4(&c->s, h / n);
    c->s.t = t + h;
    *lastTime = c->s.t;
    if (faulty(c, 2))
        for (int i = 0; i < NX; ++i) c->s.x[i] = NAN;
    return fmi3OK;
}

/* ---------------------------------------------------------------- Model Exchange */

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance inst) { (void)inst; return fmi3OK; }

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance inst, fmi3Boolean noSet,
                                       fmi3Boolean *enterEventMode, fmi3Boolean *terminate)
{
    (void)inst; (void)noSet;
    *enterEventMode = fmi3False;
    *terminate = fmi3False;
    return fmi3OK;
}

fmi3Status fmi3SetTime(fmi3Instance inst, fmi3Float64 t)
{
    ((Instance *)inst)->s.t = t;
    return fmi3OK;
}

fmi3Status fmi3SetContinuousStates(fmi3Instance inst, const fmi3Float64 x[], size_t n)
{
    Instance *c = inst;
    for (size_t i = 0; i < n && i < NX; ++i) c->s.x[i] = x[i];
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStates(fmi3Instance inst, fmi3Float64 x[], size_t n)
{
    Instance *c = inst;
    for (size_t i = 0; i < n && i < NX; ++i) x[i] = c->s.x[i];
    return fmi3OK;
}

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance inst, fmi3Float64 dx[], size_t n)
{
    Instance *c = inst;
    double d[NX];
    if (faulty(c, 3)) raise(SIGSEGV);
    if (faulty(c, 1)) {
        say(c, fmi3Error, "injected failure in the derivatives");
        return fmi3Error;
    }
    rhs(&c->s, c->s.x, d);
    for (size_t i = 0; i < n && i < NX; ++i) dx[i] = faulty(c, 2) ? NAN : d[i];
    return fmi3OK;
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance inst, fmi3Float64 nom[], size_t n)
{
    (void)inst;
    for (size_t i = 0; i < n; ++i) nom[i] = 1.0;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance inst, size_t *n)
{
    (void)inst;
    *n = NX;
    return fmi3OK;
}

#ifdef EVENT_INDICATOR
#define NZ 1
#else
#define NZ 0
#endif

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance inst, size_t *n)
{
    (void)inst;
    *n = NZ;
    return fmi3OK;
}

fmi3Status fmi3GetEventIndicators(fmi3Instance inst, fmi3Float64 z[], size_t n)
{
    Instance *c = inst;
    if (n > 0) z[0] = c->s.x[2] - 140.0;
    return fmi3OK;
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance inst, fmi3Boolean *needUpdate,
                                    fmi3Boolean *terminate, fmi3Boolean *nominalsChanged,
                                    fmi3Boolean *valuesChanged, fmi3Boolean *nextTimeDefined,
                                    fmi3Float64 *nextTime)
{
    (void)inst;
    *needUpdate = *terminate = *nominalsChanged = *valuesChanged = *nextTimeDefined = fmi3False;
    *nextTime = 0.0;
    return fmi3OK;
}

/* ---------------------------------------------------------------- state */

fmi3Status fmi3GetFMUState(fmi3Instance inst, fmi3FMUState *state)
{
    State *s = *state ? (State *)*state : malloc(sizeof(State));
    if (!s) return fmi3Error;
    *s = ((Instance *)inst)->s;
    *state = s;
    return fmi3OK;
}

fmi3Status fmi3SetFMUState(fmi3Instance inst, fmi3FMUState state)
{
    ((Instance *)inst)->s = *(State *)state;
    return fmi3OK;
}

fmi3Status fmi3FreeFMUState(fmi3Instance inst, fmi3FMUState *state)
{
    (void)inst;
    free(*state);
    *state = NULL;
    return fmi3OK;
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance inst, fmi3FMUState state, size_t *size)
{
    (void)inst; (void)state;
    *size = sizeof(State);
    return fmi3OK;
}

fmi3Status fmi3SerializeFMUState(fmi3Instance inst, fmi3FMUState state, fmi3Byte out[],
                                 size_t size)
{
    (void)inst;
    if (size < sizeof(State)) return fmi3Error;
    memcpy(out, state, sizeof(State));
    return fmi3OK;
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance inst, const fmi3Byte in[], size_t size,
                                   fmi3FMUState *state)
{
    (void)inst;
    if (size != sizeof(State)) return fmi3Error;
    State *s = malloc(sizeof(State));
    if (!s) return fmi3Error;
    memcpy(s, in, sizeof(State));
    *state = s;
    return fmi3OK;
}

/* ---------------------------------------------------------------- not offered */

#define UNSUPPORTED return fmi3Error

fmi3Instance fmi3InstantiateScheduledExecution(fmi3String a, fmi3String b, fmi3String c,
    fmi3Boolean d, fmi3Boolean e, fmi3InstanceEnvironment f, fmi3LogMessageCallback g,
    fmi3ClockUpdateCallback h, fmi3LockPreemptionCallback i, fmi3UnlockPreemptionCallback j)
{ (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; (void)g; (void)h; (void)i; (void)j;
  return NULL; }

#define GETSET(T) \
fmi3Status fmi3Get##T(fmi3Instance i, const fmi3ValueReference v[], size_t n, fmi3##T x[], \
                      size_t m) { (void)i; (void)v; (void)n; (void)x; (void)m; UNSUPPORTED; } \
fmi3Status fmi3Set##T(fmi3Instance i, const fmi3ValueReference v[], size_t n, \
                      const fmi3##T x[], size_t m) \
{ (void)i; (void)v; (void)n; (void)x; (void)m; UNSUPPORTED; }
GETSET(Float32)
GETSET(Int8)
GETSET(UInt8)
GETSET(Int16)
GETSET(UInt16)
GETSET(Int32)
GETSET(UInt32)
GETSET(Int64)
GETSET(UInt64)
GETSET(Boolean)
GETSET(String)

fmi3Status fmi3GetBinary(fmi3Instance i, const fmi3ValueReference v[], size_t n, size_t s[],
                         fmi3Binary x[], size_t m)
{ (void)i; (void)v; (void)n; (void)s; (void)x; (void)m; UNSUPPORTED; }
fmi3Status fmi3SetBinary(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                         const size_t s[], const fmi3Binary x[], size_t m)
{ (void)i; (void)v; (void)n; (void)s; (void)x; (void)m; UNSUPPORTED; }
fmi3Status fmi3GetClock(fmi3Instance i, const fmi3ValueReference v[], size_t n, fmi3Clock x[])
{ (void)i; (void)v; (void)n; (void)x; UNSUPPORTED; }
fmi3Status fmi3SetClock(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                        const fmi3Clock x[])
{ (void)i; (void)v; (void)n; (void)x; UNSUPPORTED; }
fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance i, fmi3ValueReference v, size_t *n)
{ (void)i; (void)v; (void)n; UNSUPPORTED; }
fmi3Status fmi3GetVariableDependencies(fmi3Instance i, fmi3ValueReference v, size_t a[],
                                       fmi3ValueReference b[], size_t c[],
                                       fmi3DependencyKind d[], size_t n)
{ (void)i; (void)v; (void)a; (void)b; (void)c; (void)d; (void)n; UNSUPPORTED; }
fmi3Status fmi3GetDirectionalDerivative(fmi3Instance i, const fmi3ValueReference u[], size_t nu,
    const fmi3ValueReference k[], size_t nk, const fmi3Float64 s[], size_t ns,
    fmi3Float64 r[], size_t nr)
{ (void)i; (void)u; (void)nu; (void)k; (void)nk; (void)s; (void)ns; (void)r; (void)nr;
  UNSUPPORTED; }
fmi3Status fmi3GetAdjointDerivative(fmi3Instance i, const fmi3ValueReference u[], size_t nu,
    const fmi3ValueReference k[], size_t nk, const fmi3Float64 s[], size_t ns,
    fmi3Float64 r[], size_t nr)
{ (void)i; (void)u; (void)nu; (void)k; (void)nk; (void)s; (void)ns; (void)r; (void)nr;
  UNSUPPORTED; }
fmi3Status fmi3EnterConfigurationMode(fmi3Instance i) { (void)i; UNSUPPORTED; }
fmi3Status fmi3ExitConfigurationMode(fmi3Instance i) { (void)i; UNSUPPORTED; }
fmi3Status fmi3GetIntervalDecimal(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                  fmi3Float64 a[], fmi3IntervalQualifier q[])
{ (void)i; (void)v; (void)n; (void)a; (void)q; UNSUPPORTED; }
fmi3Status fmi3GetIntervalFraction(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                   fmi3UInt64 a[], fmi3UInt64 b[], fmi3IntervalQualifier q[])
{ (void)i; (void)v; (void)n; (void)a; (void)b; (void)q; UNSUPPORTED; }
fmi3Status fmi3GetShiftDecimal(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                               fmi3Float64 a[])
{ (void)i; (void)v; (void)n; (void)a; UNSUPPORTED; }
fmi3Status fmi3GetShiftFraction(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                fmi3UInt64 a[], fmi3UInt64 b[])
{ (void)i; (void)v; (void)n; (void)a; (void)b; UNSUPPORTED; }
fmi3Status fmi3SetIntervalDecimal(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                  const fmi3Float64 a[])
{ (void)i; (void)v; (void)n; (void)a; UNSUPPORTED; }
fmi3Status fmi3SetIntervalFraction(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                   const fmi3UInt64 a[], const fmi3UInt64 b[])
{ (void)i; (void)v; (void)n; (void)a; (void)b; UNSUPPORTED; }
fmi3Status fmi3SetShiftDecimal(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                               const fmi3Float64 a[])
{ (void)i; (void)v; (void)n; (void)a; UNSUPPORTED; }
fmi3Status fmi3SetShiftFraction(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                const fmi3UInt64 a[], const fmi3UInt64 b[])
{ (void)i; (void)v; (void)n; (void)a; (void)b; UNSUPPORTED; }
fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance i) { (void)i; UNSUPPORTED; }
fmi3Status fmi3EnterStepMode(fmi3Instance i) { (void)i; return fmi3OK; }
fmi3Status fmi3GetOutputDerivatives(fmi3Instance i, const fmi3ValueReference v[], size_t n,
                                    const fmi3Int32 o[], fmi3Float64 x[], size_t m)
{ (void)i; (void)v; (void)n; (void)o; (void)x; (void)m; UNSUPPORTED; }
fmi3Status fmi3ActivateModelPartition(fmi3Instance i, fmi3ValueReference c, fmi3Float64 t)
{ (void)i; (void)c; (void)t; UNSUPPORTED; }
