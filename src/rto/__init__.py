"""Real-time optimisation: steady-state economics in Pyomo.

Planned contents (see the RTO issue): a Pyomo solver backed by CasADi's
IPOPT, economic optimisation from plant models, two-step RTO and modifier
adaptation. Imports only the twin core (DESIGN.md, dependency direction).
"""
