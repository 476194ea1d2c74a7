"""The Examples sections of the format modules are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "heron.format",
    "heron.format._blocks",
    "heron.format._dedup",
    "heron.format._framing",
    "heron.format.errors",
    "heron.format.reader",
    "heron.format.records",
    "heron.format.verify",
    "heron.format.writer",
    "heron.cli.info",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
