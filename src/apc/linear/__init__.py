"""Linear MPC: linear models at the control interval, predictors, the QP and the steady-state optimiser."""
