"""Linear MPC: linear models at the control interval, DMC / Kalman feedback, condensed QP."""
