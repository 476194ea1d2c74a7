"""The Examples sections of the diff modules are run, so they stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "heron.analyze.diff",
    "heron.analyze.diff._align",
    "heron.analyze.diff._compare",
    "heron.analyze.diff._gate",
    "heron.analyze.diff._render",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name: str) -> None:
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
