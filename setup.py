"""Build the compiled kernel (the rest of the project is declared in pyproject.toml).

The extension is optional: without a C compiler wavelens installs anyway and
falls back to NumPy's batched LAPACK calls (about 2.5x slower per image).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

kernels = Extension("wavelens._kernels", ["src/wavelens/_kernels.pyx"], optional=True)
setup(ext_modules=cythonize([kernels], language_level=3, quiet=True))
