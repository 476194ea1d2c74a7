"""One exception root for all of Heron.

Every failure a user can cause (a damaged file, a missing privilege, a bad
option) raises a subclass of :class:`HeronError` whose message says what was
expected, what was found and where.  The CLIs turn these into one clear line
and an exit code; only genuine bugs produce tracebacks.

Examples
--------
>>> try:
...     raise HeronError("boom")
... except HeronError as e:
...     str(e)
'boom'
"""

from __future__ import annotations


class HeronError(Exception):
    """Root of every error Heron raises on purpose."""
