"""The closed-loop runner (SIL), its cycle log, KPIs and report."""
