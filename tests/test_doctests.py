"""The examples in the docstrings run and print what they say, and every public name has one."""

import doctest
import importlib
import inspect
import pkgutil

import pytest

import wavelens

MODULES = sorted(info.name for info in pkgutil.walk_packages(wavelens.__path__, "wavelens.")
                 if not info.name.startswith("wavelens.cli") and info.name != "wavelens.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("name", sorted(set(wavelens.__all__) - {"__version__", "WavelensError"}))
def test_every_public_name_has_an_example(name):
    value = getattr(wavelens, name)
    assert inspect.isclass(value) or inspect.isfunction(value)
    assert ">>> " in (value.__doc__ or ""), f"wavelens.{name} has no example in its docstring"
