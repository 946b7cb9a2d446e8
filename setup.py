"""Compiled extensions only; all metadata lives in pyproject.toml.

The stepping kernels are Cython (``src/twin/core/kernels/_kernels.pyx``)
over the plain-C integrators of ``twin_integrators.h``, built with OpenMP
for the batch loops.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

KERNEL_DIR = "src/twin/core/kernels"

extensions = [
    Extension(
        "twin.core.kernels._kernels",
        [f"{KERNEL_DIR}/_kernels.pyx"],
        include_dirs=[KERNEL_DIR],
        depends=[f"{KERNEL_DIR}/twin_integrators.h"],
        extra_compile_args=["-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"],
        extra_link_args=["-fopenmp"],
    )
]

setup(ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}))
