"""``python bench/_rss.py RESULT -- CMD ...``: run CMD, write its wall time and peak RSS to RESULT.

Why a wrapper: Linux carries a process's RSS high-water mark across
fork+exec (``signal->maxrss`` takes the pre-exec memory's peak), so a child
forked straight from the large benchmark process would report the
benchmark's own RSS.  Forked from this small interpreter instead, the
command's ``ru_maxrss`` (from ``wait4``) is its own.  Standalone on purpose:
it imports nothing from the project.  Exits with CMD's exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    """Run the command, record ``{"wall_s", "maxrss_kib", "returncode"}``."""
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print("usage: python bench/_rss.py RESULT -- CMD [ARGS...]", file=sys.stderr)
        return 2
    result, cmd = args[0], args[2:]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd)
    _pid, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as f:
        json.dump({"wall_s": wall, "maxrss_kib": ru.ru_maxrss, "returncode": code}, f)
    return code if code >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
