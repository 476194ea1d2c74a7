"""Heron: Wireshark for AI agents.

Analysis API (unprivileged; never imports bcc).  Capture lives in
:mod:`heron.capture` and needs root.
"""

from __future__ import annotations

from heron.errors import HeronError

__version__ = "0.1.0"

__all__ = ["HeronError", "__version__"]
