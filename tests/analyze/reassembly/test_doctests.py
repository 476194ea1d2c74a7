"""Run the reassembly modules' docstring examples (they are part of the API docs)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "heron.analyze.reassembly",
    "heron.analyze.reassembly.bench",
    "heron.analyze.reassembly.builder",
    "heron.analyze.reassembly.content",
    "heron.analyze.reassembly.http1",
    "heron.analyze.reassembly.http2",
    "heron.analyze.reassembly.ndjson",
    "heron.analyze.reassembly.sse",
    "heron.analyze.reassembly.streams",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0
