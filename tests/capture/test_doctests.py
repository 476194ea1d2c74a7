"""The Examples sections of the capture modules are tests too (no root needed)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "heron.capture",
    "heron.capture.assemble",
    "heron.capture.cli",
    "heron.capture.elf",
    "heron.capture.errors",
    "heron.capture.events",
    "heron.capture.libs",
    "heron.capture.procfs",
    "heron.capture.program",
    "heron.capture.probes",
    "heron.capture.target",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
