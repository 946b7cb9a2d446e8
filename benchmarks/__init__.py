"""The benchmark harness (installed as ``twin_benchmarks``; run with ``twin bench``).

Each figure is a function registered with :func:`twin_benchmarks.harness.benchmark`
in one of the modules of :data:`FIGURE_MODULES`; it measures our code and its
baselines in the same run and declares its own budget for ``--quick``.
"""

FIGURE_MODULES = ("twin_benchmarks.kernels", "twin_benchmarks.fmi", "twin_benchmarks.apc",
                  "twin_benchmarks.rto", "twin_benchmarks.opcua", "twin_benchmarks.whatif",
                  "twin_benchmarks.calibrate",
                  "twin_benchmarks.ident", "twin_benchmarks.lmpc_small", "twin_benchmarks.lmpc",
                  "twin_benchmarks.steady_state", "twin_benchmarks.console",
                  "twin_benchmarks.tennessee_eastman")
"""Modules that register figures, in report order."""
