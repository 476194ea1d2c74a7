"""The Examples sections of the analysis modules are run as tests.

They run from the repository root, so examples can open the real captures
in ``tests/fixtures`` as a reader of the docs would; ``heron`` and ``pl``
(polars) are available to every example.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import polars as pl
import pytest

import heron

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "heron",
    "heron.accel",
    "heron.accel.__main__",
    "heron.analyze.schema",
    "heron.analyze.agents",
    "heron.analyze.clock",
    "heron.analyze.conversations",
    "heron.analyze.tools",
    "heron.analyze.loops",
    "heron.analyze.build",
    "heron.analyze.capture",
    "heron.analyze.pipeline",
    "heron.analyze.providers",
    "heron.analyze.providers.base",
    "heron.analyze.providers.history",
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
def test_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    res = doctest.testmod(
        importlib.import_module(name),
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        extraglobs={"heron": heron, "pl": pl},
    )
    assert res.failed == 0


def test_every_public_function_has_examples() -> None:
    """numpydoc Examples on every public function, class and method of these modules."""
    missing = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            members = [(attr, obj)]
            if isinstance(obj, type):
                members += [
                    (f"{attr}.{m}", getattr(obj, m))
                    for m, v in vars(obj).items()
                    if not m.startswith("_") and (callable(v) or isinstance(v, property))
                ]
            for label, member in members:
                doc = member.__doc__ or ""
                documentable = callable(member) or isinstance(member, property)
                if documentable and "Examples" not in doc and not hasattr(member, "callback"):
                    missing.append(f"{name}.{label}")
    assert missing == []
