"""Heron: Wireshark for AI agents.

Analysis API (unprivileged; never imports bcc).  Capture lives in
:mod:`heron.capture` and needs root.  The analysis functions are imported on
first use, so ``import heron`` stays fast and does not load Polars.

Examples
--------
>>> import heron
>>> cap = heron.open("tests/fixtures/variant_b.heron")
>>> cap.calls.select("agent", "model", "status", "output_tokens").head(3).rows()
[('heron.standin.agents.variant', 'gpt-4o-mini', 200, 9), ('heron.standin.agents.variant', 'gpt-4o-mini', 200, 9), ('heron.standin.agents.variant', 'gpt-4o-mini', 429, None)]
>>> cap.loops["kind"].to_list()
['repeated_tool_call']
>>> heron.scan_calls("tests/fixtures/variant_*.heron").collect().height
11
>>> heron.diff("tests/fixtures/variant_a.heron", "tests/fixtures/variant_b.heron").value("loops")
(0.0, 1.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from heron import accel
from heron.errors import HeronError

accel.install()  # compiled hot modules, where built and current (heron.accel)

__version__ = "0.1.0"

_LAZY = {
    "open": "heron.analyze.capture",
    "Capture": "heron.analyze.capture",
    "read_calls": "heron.analyze.capture",
    "scan_calls": "heron.analyze.capture",
    "read_tools": "heron.analyze.capture",
    "scan_tools": "heron.analyze.capture",
    "read_loops": "heron.analyze.capture",
    "scan_loops": "heron.analyze.capture",
    "diff": "heron.analyze.diff",
    "DiffResult": "heron.analyze.diff",
}

if TYPE_CHECKING:
    from heron.analyze.capture import (
        Capture,
        open,
        read_calls,
        read_loops,
        read_tools,
        scan_calls,
        scan_loops,
        scan_tools,
    )
    from heron.analyze.diff import DiffResult, diff


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'heron' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


__all__ = [
    "Capture",
    "DiffResult",
    "HeronError",
    "__version__",
    "diff",
    "open",
    "read_calls",
    "read_loops",
    "read_tools",
    "scan_calls",
    "scan_loops",
    "scan_tools",
]
