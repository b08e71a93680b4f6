"""The examples in the public docstrings run, and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["wavelens._validation", "wavelens.analysis", "wavelens.duplicate_analysis", "wavelens.datasets",
           "wavelens.datasets._arrays", "wavelens.datasets._base"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0 or name == "wavelens.datasets", f"{name} has no examples"
