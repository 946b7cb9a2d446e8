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
``tennessee_eastman`` Tennessee Eastman challenge process (Downs & Vogel 1993), plant-wide
``tennessee_eastman_ricker`` the same plant under Ricker's (1996) decentralized control
``tennessee_eastman_reduced`` the same plant, 39 states: the valves of 5-9 s instantaneous
=================  ====================================================

The unit-scale plants (:data:`NAMES`) share one battery of generic checks
(steady states, linearisation, Pyomo form, estimation, physical bounds from
any start in their operating ranges). The plant-wide ones (:data:`PLANT_WIDE`)
have shutdown limits and are checked by their own tests against an
independent simulator, the physical-bounds property among them in the form
that fits a plant with interlocks: physical until a limit trips.

Models import only the twin model API (the dependency direction of README.md).
"""

NAMES = ("cstr", "williams_otto", "quadruple_tank", "distillation_a", "williams_otto_approx",
         "cstr_exothermic")
"""Module names of the shipped unit-scale plant models."""
PLANT_WIDE = ("tennessee_eastman", "tennessee_eastman_ricker", "tennessee_eastman_reduced")
"""Module names of the shipped plant-wide models."""
SHIPPED = NAMES + PLANT_WIDE
"""Every shipped model, in the order ``twin models`` lists them."""
