"""Build the compiled kernel (the rest of the project is declared in pyproject.toml).

The extension is optional: without a C compiler wavelens installs anyway and
falls back to NumPy's batched LAPACK calls (about 2.5x slower per image).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import BaseError, CCompilerError, CompileError


class OptionalBuildExt(build_ext):
    """Build each optional extension if a C compiler works; otherwise say so and go on without it."""

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, BaseError, OSError) as error:
            if not ext.optional:
                raise
            self.warn(f"no C compiler could build {ext.name}: wavelens is installed without its compiled "
                      "kernel and uses NumPy instead (about 2.5x slower per image); install a C compiler "
                      "(e.g. gcc) and reinstall to build it.")
            # setuptools then skips the optional extension, and reports the compiler's error.
            raise CompileError(str(error)) from error


# cythonize makes new Extension objects and drops ``optional``: set it on those it returns.
extensions = cythonize([Extension("wavelens._kernels", ["src/wavelens/_kernels.pyx"])], language_level=3, quiet=True)
for extension in extensions:
    extension.optional = True
setup(ext_modules=extensions, cmdclass={"build_ext": OptionalBuildExt})
