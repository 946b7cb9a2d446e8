"""Step tests: excitation signals, designs from a rough prior, MV limits, pre-test fits.

Pure algorithms (no I/O): :mod:`apc.steptest.signals` (staircase, PRBS,
GBN), :mod:`apc.steptest.design` (amplitudes, duration, the rotated design
for ill-conditioned plants), :mod:`apc.steptest.limits` (hard and rate
limits), :mod:`apc.steptest.pretest` (gain and settling time from one step).
Running a test on a plant is :mod:`twin.orchestration.steptest`.
"""
