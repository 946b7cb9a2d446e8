"""The benchmark plants, each a :class:`twin.core.model.Model` named ``MODEL``.

=================  ====================================================
module             plant
=================  ====================================================
``cstr``           Van de Vusse CSTR (Klatt & Engell 1998)
``williams_otto``  Williams–Otto reactor with mass holdup
``quadruple_tank`` Johansson's quadruple-tank process (P-, P+)
``distillation_a`` Skogestad's Column A, LV configuration
``williams_otto_approx`` two-reaction approximation of Williams–Otto (RTO mismatch)
``cstr_exothermic`` exothermic A -> B CSTR, jacket cooling, open-loop unstable (Seborg et al.)
=================  ====================================================

Models import only the twin model API (the dependency direction of README.md).
"""

NAMES = ("cstr", "williams_otto", "quadruple_tank", "distillation_a", "williams_otto_approx",
         "cstr_exothermic")
"""Module names of the shipped plant models."""
