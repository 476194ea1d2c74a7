"""``python -m bench.fanout N -- CMD ...``: run N copies of CMD at once, wait for all.

Used to record 16 interleaved agent conversations under one ``heron-capture``
(every copy is a descendant of the captured command).  Exits non-zero when
any copy did.

Examples
--------
::

    python -m bench.fanout 16 -- python -m heron.standin.agents.bench_agent ...
"""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str] | None = None) -> int:
    """Start the copies, wait for them, return the worst exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--" or not args[0].isdigit():
        print("usage: python -m bench.fanout N -- CMD [ARGS...]", file=sys.stderr)
        return 2
    n, cmd = int(args[0]), args[2:]
    procs = [subprocess.Popen(cmd) for _ in range(n)]
    codes = [p.wait() for p in procs]
    bad = [c for c in codes if c != 0]
    if bad:
        print(f"fanout: {len(bad)} of {n} copies failed (first status {bad[0]})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
