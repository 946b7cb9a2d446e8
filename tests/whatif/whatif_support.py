"""Shared study text of the what-if tests."""

CSTR_STUDY = """
duration = 1.0
[base]
kind = "open_loop"
model = "cstr"
dt = 0.01
[[variable]]
name = "beta"
low = 0.9
high = 1.1
[sampling]
method = "lhs"
n = 10
[[kpi]]
name = "c"
variable = "C_b"
"""
"""A small open-loop CSTR study the tests edit."""
