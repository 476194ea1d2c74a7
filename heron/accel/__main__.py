"""``python -m heron.accel build|status``: compile the hot modules, or list what is in use.

Examples
--------
::

    $ .venv/bin/python -m heron.accel status
    compiled  heron.format.reader
    ...
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from heron.accel import MODULES, build, disabled, status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv``; return the exit code.

    Examples
    --------
    >>> main(["frobnicate"])
    2
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["build"]:
        t = time.monotonic()
        try:
            done = build()
        except ImportError:
            print("heron.accel: Cython is not installed: the analysis runs as plain Python")
            return 1
        if done:
            print(f"heron.accel: compiled {len(done)} modules in {time.monotonic() - t:.0f} s")
        else:
            print(f"heron.accel: all {len(MODULES)} modules compiled and current")
        return 0
    if args == ["status"]:
        for name, state in status().items():
            print(f"{state:9s} {name}")
        if disabled():
            print("HERON_PURE is set: the source modules run")
        return 0
    print("usage: python -m heron.accel build|status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
