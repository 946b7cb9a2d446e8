"""Compiled extensions only; all metadata lives in pyproject.toml.

The stepping kernels (Cython) are declared here as they are added.
"""

from setuptools import setup

setup()
