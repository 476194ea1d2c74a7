"""The Examples sections of the analysis modules are run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "heron.analyze.schema",
    "heron.analyze.agents",
    "heron.analyze.clock",
    "heron.analyze.conversations",
    "heron.analyze.tools",
    "heron.analyze.loops",
    "heron.analyze.build",
    "heron.analyze.capture",
    "heron.analyze.providers",
    "heron.analyze.providers.base",
    "heron.analyze.providers.openai_chat",
    "heron.analyze.providers.openai_responses",
    "heron.analyze.providers.openai_completions",
    "heron.analyze.providers.anthropic",
    "heron.analyze.providers.gemini",
    "heron.analyze.providers.ollama",
    "heron.analyze.providers.embeddings",
    "heron.cli.tables",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name: str) -> None:
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0
