/*
 * fmi2_wrapper.c -- FMI 2.0 Model Exchange and Co-Simulation for a twin plant model.
 *
 * Everything model-specific comes from the generated twin_model.h / twin_model.c:
 * sizes, start values, the right-hand side, Jacobian nonzeros and outputs (CasADi-
 * generated C). Co-Simulation steps with the integrators of twin_integrators.h,
 * the same code as the twin's stepping kernels; the method (0 RK4, 1 Dormand-Prince
 * 5(4), 2 BDF), the RK4 substeps and the tolerances are FMU parameters.
 *
 * Real value references: states [0, NX), their derivatives [NX, 2NX), inputs, parameters,
 * outputs, then the solver tolerances rtol and atol. Integer value references: 0 the
 * method, 1 the RK4 substeps per communication step.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmi2Functions.h"
#include "twin_integrators.h"
#include "twin_model.h"

#define VR_X 0
#define VR_DX (VR_X + TWIN_NX)
#define VR_U (VR_DX + TWIN_NX)
#define VR_P (VR_U + TWIN_NU)
#define VR_Y (VR_P + TWIN_NP)
#define VR_RTOL (VR_Y + TWIN_NY)
#define VR_ATOL (VR_RTOL + 1)
#define VR_TIME (VR_ATOL + 1)
#define N_REAL (VR_TIME + 1)
#define VR_METHOD 0
#define VR_SUBSTEPS 1

#define A(n) ((n) > 0 ? (n) : 1) /* arrays of at least one element */

typedef enum { PH_INSTANTIATED, PH_INIT, PH_EVENT, PH_CONTINUOUS, PH_STEP, PH_TERMINATED,
               PH_ERROR } Phase;

/* Everything that defines the instance's state: copied whole by get/set FMU state. */
typedef struct {
    double t;
    double x[A(TWIN_NX)];
    double u[A(TWIN_NU)];
    double p[A(TWIN_NP)];
    double rtol, atol, h;
    int method, substeps;
} Snapshot;

typedef struct {
    Snapshot s;
    double dx[A(TWIN_NX)];
    double y[A(TWIN_NY)];
    int dirty;
    Phase phase;
    fmi2Type type;
    fmi2CallbackFunctions cb;
    fmi2Boolean logging;
    char name[128];
    twin_model m;
    double *work;
    int *iwork;
} Instance;

static void say(Instance *c, fmi2Status status, const char *category, const char *fmt, ...)
{
    if (!c->cb.logger || (status == fmi2OK && !c->logging)) return;
    char buffer[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buffer, sizeof buffer, fmt, args);
    va_end(args);
    c->cb.logger(c->cb.componentEnvironment, c->name, status, category, "%s", buffer);
}

static fmi2Status refresh(Instance *c)
{
    if (!c->dirty) return fmi2OK;
    if (twin_rhs(c->s.x, c->s.u, c->s.p, c->dx, c->work) != 0) {
        say(c, fmi2Error, "logStatusError", "right-hand side failed at t = %g", c->s.t);
        return fmi2Error;
    }
    for (int i = 0; i < TWIN_NX; ++i)
        if (!isfinite(c->dx[i])) {
            say(c, fmi2Error, "logStatusError", "non-finite derivative of state %d at t = %g", i,
                c->s.t);
            return fmi2Error;
        }
    if (TWIN_NY > 0 && twin_outputs(c->s.x, c->s.u, c->s.p, c->y, c->work) != 0) {
        say(c, fmi2Error, "logStatusError", "outputs failed at t = %g", c->s.t);
        return fmi2Error;
    }
    c->dirty = 0;
    return fmi2OK;
}

/* ------------------------------------------------------------------ common */

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component comp, fmi2Boolean on, size_t n, const fmi2String cat[])
{
    (void)n; (void)cat;
    ((Instance *)comp)->logging = on;
    return fmi2OK;
}

/* Start values of every variable and solver setting (instantiation and fmi2Reset). */
static void start_values(Instance *c)
{
    memcpy(c->s.x, twin_start_x, sizeof(double) * A(TWIN_NX));
    memcpy(c->s.u, twin_start_u, sizeof(double) * A(TWIN_NU));
    memcpy(c->s.p, twin_start_p, sizeof(double) * A(TWIN_NP));
    c->s.t = 0.0;
    c->s.h = 0.0;
    c->s.rtol = 1e-8;
    c->s.atol = 1e-10;
    c->s.method = TWIN_DEFAULT_METHOD;
    c->s.substeps = 10;
}

fmi2Component fmi2Instantiate(fmi2String name, fmi2Type type, fmi2String guid,
                              fmi2String resources, const fmi2CallbackFunctions *cb,
                              fmi2Boolean visible, fmi2Boolean logging)
{
    (void)resources; (void)visible;
    if (!guid || strcmp(guid, TWIN_GUID) != 0) {
        if (cb && cb->logger)
            cb->logger(cb->componentEnvironment, name, fmi2Error, "logStatusError",
                       "GUID mismatch: this binary is %s", TWIN_GUID);
        return NULL;
    }
    Instance *c = (Instance *)calloc(1, sizeof(Instance));
    if (!c) return NULL;
    c->type = type;
    if (cb) c->cb = *cb;
    c->logging = logging;
    snprintf(c->name, sizeof c->name, "%s", name ? name : TWIN_MODEL_NAME);
    start_values(c);
    c->m.rhs = twin_rhs;
    c->m.jac = twin_jac;
    c->m.nx = TWIN_NX;
    c->m.model_work = TWIN_MODEL_WORK;
    c->m.jac_nnz = TWIN_JAC_NNZ;
    c->m.jac_row = twin_jac_row;
    c->m.jac_col = twin_jac_col;
    c->m.perm = twin_perm;
    c->m.kl = TWIN_KL;
    c->m.ku = TWIN_KU;
    size_t ws = twin_work_size(&c->m, TWIN_METHOD_BDF);
    size_t w2 = twin_work_size(&c->m, TWIN_METHOD_DOPRI5);
    if (w2 > ws) ws = w2;
    c->work = (double *)calloc(ws + TWIN_MODEL_WORK + 1, sizeof(double));
    c->iwork = (int *)calloc(TWIN_NX + 1, sizeof(int));
    if (!c->work || !c->iwork) {
        free(c->work); free(c->iwork); free(c);
        return NULL;
    }
    c->dirty = 1;
    c->phase = PH_INSTANTIATED;
    return c;
}

void fmi2FreeInstance(fmi2Component comp)
{
    Instance *c = (Instance *)comp;
    if (!c) return;
    free(c->work);
    free(c->iwork);
    free(c);
}

fmi2Status fmi2SetupExperiment(fmi2Component comp, fmi2Boolean tolDefined, fmi2Real tol,
                               fmi2Real start, fmi2Boolean stopDefined, fmi2Real stop)
{
    Instance *c = (Instance *)comp;
    (void)stopDefined; (void)stop;
    c->s.t = start;
    if (tolDefined && tol > 0) c->s.rtol = tol;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component comp)
{
    ((Instance *)comp)->phase = PH_INIT;
    return fmi2OK;
}

fmi2Status fmi2ExitInitializationMode(fmi2Component comp)
{
    Instance *c = (Instance *)comp;
    c->dirty = 1;
    c->phase = c->type == fmi2ModelExchange ? PH_EVENT : PH_STEP;
    return refresh(c);
}

fmi2Status fmi2Terminate(fmi2Component comp)
{
    ((Instance *)comp)->phase = PH_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component comp)
{
    Instance *c = (Instance *)comp;
    start_values(c);
    c->dirty = 1;
    c->phase = PH_INSTANTIATED;
    return fmi2OK;
}

/* ----------------------------------------------------------- get and set */

fmi2Status fmi2GetReal(fmi2Component comp, const fmi2ValueReference vr[], size_t n, fmi2Real v[])
{
    Instance *c = (Instance *)comp;
    int needs_model = 0;
    for (size_t k = 0; k < n; ++k)
        if ((vr[k] >= VR_DX && vr[k] < VR_U) || (vr[k] >= VR_Y && vr[k] < VR_RTOL)) needs_model = 1;
    if (needs_model && refresh(c) != fmi2OK) return fmi2Error;
    for (size_t k = 0; k < n; ++k) {
        fmi2ValueReference r = vr[k];
        if (r < VR_DX) v[k] = c->s.x[r - VR_X];
        else if (r < VR_U) v[k] = c->dx[r - VR_DX];
        else if (r < VR_P) v[k] = c->s.u[r - VR_U];
        else if (r < VR_Y) v[k] = c->s.p[r - VR_P];
        else if (r < VR_RTOL) v[k] = c->y[r - VR_Y];
        else if (r == VR_RTOL) v[k] = c->s.rtol;
        else if (r == VR_ATOL) v[k] = c->s.atol;
        else if (r == VR_TIME) v[k] = c->s.t;
        else {
            say(c, fmi2Error, "logStatusError", "unknown Real value reference %u", (unsigned)r);
            return fmi2Error;
        }
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component comp, const fmi2ValueReference vr[], size_t n,
                       const fmi2Real v[])
{
    Instance *c = (Instance *)comp;
    for (size_t k = 0; k < n; ++k) {
        fmi2ValueReference r = vr[k];
        if (!isfinite(v[k])) {
            say(c, fmi2Error, "logStatusError", "non-finite value for reference %u", (unsigned)r);
            return fmi2Error;
        }
        if (r < VR_DX) c->s.x[r - VR_X] = v[k];
        else if (r < VR_U) {
            say(c, fmi2Error, "logStatusError", "derivatives cannot be set");
            return fmi2Error;
        }
        else if (r < VR_P) c->s.u[r - VR_U] = v[k];
        else if (r < VR_Y) c->s.p[r - VR_P] = v[k];
        else if (r < VR_RTOL) {
            say(c, fmi2Error, "logStatusError", "outputs cannot be set");
            return fmi2Error;
        }
        else if (r == VR_RTOL) c->s.rtol = v[k];
        else if (r == VR_ATOL) c->s.atol = v[k];
        else if (r == VR_TIME) {
            say(c, fmi2Error, "logStatusError", "time cannot be set");
            return fmi2Error;
        }
        else {
            say(c, fmi2Error, "logStatusError", "unknown Real value reference %u", (unsigned)r);
            return fmi2Error;
        }
    }
    c->dirty = 1;
    return fmi2OK;
}

fmi2Status fmi2GetInteger(fmi2Component comp, const fmi2ValueReference vr[], size_t n,
                          fmi2Integer v[])
{
    Instance *c = (Instance *)comp;
    for (size_t k = 0; k < n; ++k) {
        if (vr[k] == VR_METHOD) v[k] = c->s.method;
        else if (vr[k] == VR_SUBSTEPS) v[k] = c->s.substeps;
        else return fmi2Error;
    }
    return fmi2OK;
}

fmi2Status fmi2SetInteger(fmi2Component comp, const fmi2ValueReference vr[], size_t n,
                          const fmi2Integer v[])
{
    Instance *c = (Instance *)comp;
    for (size_t k = 0; k < n; ++k) {
        if (vr[k] == VR_METHOD && v[k] >= 0 && v[k] <= 2) c->s.method = v[k];
        else if (vr[k] == VR_SUBSTEPS && v[k] >= 1) c->s.substeps = v[k];
        else {
            say(c, fmi2Error, "logStatusError", "invalid Integer reference %u or value %d",
                (unsigned)vr[k], (int)v[k]);
            return fmi2Error;
        }
    }
    return fmi2OK;
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2Boolean v[])
{ (void)c; (void)vr; (void)v; return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                          const fmi2Boolean v[])
{ (void)c; (void)vr; (void)v; return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t n, fmi2String v[])
{ (void)c; (void)vr; (void)v; return n ? fmi2Error : fmi2OK; }
fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                         const fmi2String v[])
{ (void)c; (void)vr; (void)v; return n ? fmi2Error : fmi2OK; }

/* ------------------------------------------------------------- FMU state */

fmi2Status fmi2GetFMUstate(fmi2Component comp, fmi2FMUstate *state)
{
    Instance *c = (Instance *)comp;
    Snapshot *s = *state ? (Snapshot *)*state : (Snapshot *)malloc(sizeof(Snapshot));
    if (!s) return fmi2Error;
    *s = c->s;
    *state = s;
    return fmi2OK;
}

fmi2Status fmi2SetFMUstate(fmi2Component comp, fmi2FMUstate state)
{
    Instance *c = (Instance *)comp;
    if (!state) return fmi2Error;
    c->s = *(Snapshot *)state;
    c->dirty = 1;
    if (c->phase == PH_ERROR) /* the standard allows a restart from a stored state */
        c->phase = c->type == fmi2ModelExchange ? PH_CONTINUOUS : PH_STEP;
    return fmi2OK;
}

fmi2Status fmi2FreeFMUstate(fmi2Component comp, fmi2FMUstate *state)
{
    (void)comp;
    if (state && *state) {
        free(*state);
        *state = NULL;
    }
    return fmi2OK;
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component comp, fmi2FMUstate state, size_t *size)
{
    (void)comp; (void)state;
    *size = sizeof(Snapshot) + sizeof(unsigned);
    return fmi2OK;
}

fmi2Status fmi2SerializeFMUstate(fmi2Component comp, fmi2FMUstate state, fmi2Byte bytes[],
                                 size_t size)
{
    (void)comp;
    const unsigned tag = TWIN_STATE_TAG;
    if (!state || size < sizeof(Snapshot) + sizeof tag) return fmi2Error;
    memcpy(bytes, &tag, sizeof tag);
    memcpy(bytes + sizeof tag, state, sizeof(Snapshot));
    return fmi2OK;
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component comp, const fmi2Byte bytes[], size_t size,
                                   fmi2FMUstate *state)
{
    Instance *c = (Instance *)comp;
    unsigned tag;
    if (size != sizeof(Snapshot) + sizeof tag) return fmi2Error;
    memcpy(&tag, bytes, sizeof tag);
    if (tag != TWIN_STATE_TAG) {
        say(c, fmi2Error, "logStatusError", "serialized state is from another model");
        return fmi2Error;
    }
    Snapshot *s = *state ? (Snapshot *)*state : (Snapshot *)malloc(sizeof(Snapshot));
    if (!s) return fmi2Error;
    memcpy(s, bytes + sizeof tag, sizeof(Snapshot));
    *state = s;
    return fmi2OK;
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference u[], size_t nu,
                                        const fmi2ValueReference k[], size_t nk,
                                        const fmi2Real dk[], fmi2Real du[])
{
    (void)c; (void)u; (void)nu; (void)k; (void)nk; (void)dk; (void)du;
    return fmi2Error; /* providesDirectionalDerivative="false" */
}

/* ------------------------------------------------------- Model Exchange */

fmi2Status fmi2EnterEventMode(fmi2Component comp)
{
    ((Instance *)comp)->phase = PH_EVENT;
    return fmi2OK;
}

fmi2Status fmi2NewDiscreteStates(fmi2Component comp, fmi2EventInfo *info)
{
    (void)comp;
    info->newDiscreteStatesNeeded = fmi2False;
    info->terminateSimulation = fmi2False;
    info->nominalsOfContinuousStatesChanged = fmi2False;
    info->valuesOfContinuousStatesChanged = fmi2False;
    info->nextEventTimeDefined = fmi2False;
    info->nextEventTime = 0.0;
    return fmi2OK;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component comp)
{
    ((Instance *)comp)->phase = PH_CONTINUOUS;
    return fmi2OK;
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component comp, fmi2Boolean noSetPrior,
                                       fmi2Boolean *enterEventMode, fmi2Boolean *terminate)
{
    (void)comp; (void)noSetPrior;
    *enterEventMode = fmi2False;
    *terminate = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component comp, fmi2Real t)
{
    Instance *c = (Instance *)comp;
    c->s.t = t;
    return fmi2OK;
}

fmi2Status fmi2SetContinuousStates(fmi2Component comp, const fmi2Real x[], size_t nx)
{
    Instance *c = (Instance *)comp;
    if (nx != TWIN_NX) return fmi2Error;
    memcpy(c->s.x, x, nx * sizeof(double));
    c->dirty = 1;
    return fmi2OK;
}

fmi2Status fmi2GetDerivatives(fmi2Component comp, fmi2Real dx[], size_t nx)
{
    Instance *c = (Instance *)comp;
    if (nx != TWIN_NX || refresh(c) != fmi2OK) return fmi2Error;
    memcpy(dx, c->dx, nx * sizeof(double));
    return fmi2OK;
}

fmi2Status fmi2GetEventIndicators(fmi2Component comp, fmi2Real z[], size_t nz)
{
    (void)comp; (void)z;
    return nz == 0 ? fmi2OK : fmi2Error;
}

fmi2Status fmi2GetContinuousStates(fmi2Component comp, fmi2Real x[], size_t nx)
{
    Instance *c = (Instance *)comp;
    if (nx != TWIN_NX) return fmi2Error;
    memcpy(x, c->s.x, nx * sizeof(double));
    return fmi2OK;
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component comp, fmi2Real nominal[], size_t nx)
{
    (void)comp;
    for (size_t i = 0; i < nx; ++i) nominal[i] = twin_nominal_x[i];
    return fmi2OK;
}

/* ---------------------------------------------------------- Co-Simulation */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                       const fmi2Integer order[], const fmi2Real v[])
{ (void)c; (void)vr; (void)n; (void)order; (void)v; return fmi2Error; }

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t n,
                                        const fmi2Integer order[], fmi2Real v[])
{ (void)c; (void)vr; (void)n; (void)order; (void)v; return fmi2Error; }

static const char *failure_text(int status)
{
    switch (status) {
    case TWIN_MAX_STEPS: return "the step limit was reached";
    case TWIN_STEP_TOO_SMALL: return "the step size fell below the resolution of time";
    case TWIN_EVAL_FAILED: return "the model returned non-finite values";
    default: return "unknown failure";
    }
}

fmi2Status fmi2DoStep(fmi2Component comp, fmi2Real t, fmi2Real h, fmi2Boolean noSetPrior)
{
    Instance *c = (Instance *)comp;
    (void)noSetPrior;
    if (c->phase == PH_ERROR) return fmi2Error;
    if (!(h > 0)) {
        say(c, fmi2Error, "logStatusError", "communication step %g must be positive", h);
        return fmi2Error;
    }
    if (fabs(t - c->s.t) > 1e-9 * (1.0 + fabs(t))) {
        say(c, fmi2Warning, "logStatusWarning", "communication point %g differs from FMU time %g",
            t, c->s.t);
    }
    twin_stats st;
    twin_stats_init(&st, c->s.h);
    double x[A(TWIN_NX)];
    memcpy(x, c->s.x, sizeof x);
    int status = twin_integrate(&c->m, c->s.method, x, c->s.u, c->s.p, h, c->s.rtol, c->s.atol,
                                c->s.substeps, 1000000, c->work, c->iwork, &st);
    if (status != TWIN_OK) {
        say(c, fmi2Error, "logStatusError", "integration failed between t = %g and %g: %s", t,
            t + h, failure_text(status));
        c->phase = PH_ERROR;
        return fmi2Error;
    }
    memcpy(c->s.x, x, sizeof x);
    c->s.h = st.h;
    c->s.t = t + h;
    c->dirty = 1;
    return refresh(c);
}

fmi2Status fmi2CancelStep(fmi2Component c) { (void)c; return fmi2Error; }

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *v)
{ (void)c; (void)s; (void)v; return fmi2Discard; }

fmi2Status fmi2GetRealStatus(fmi2Component comp, const fmi2StatusKind s, fmi2Real *v)
{
    if (s != fmi2LastSuccessfulTime) return fmi2Discard;
    *v = ((Instance *)comp)->s.t;
    return fmi2OK;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *v)
{ (void)c; (void)s; (void)v; return fmi2Discard; }

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *v)
{ (void)c; (void)s; (void)v; return fmi2Discard; }

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *v)
{ (void)c; (void)s; (void)v; return fmi2Discard; }
