"""Scenario 6: ``heron diff`` on two large captures.

Corpus: two real single-conversation captures of the stand-in's
``bench_agent`` (``single`` and ``single-b``: the same agent run twice, as a
CI job compares a base run and a head run), each grown to 128 MiB of
plaintext (1 MiB in ``--quick``) by replaying its records with shifted
pids, connection ids and timestamps (``bench/captures.py``).  One run each:
on this machine analysis of 128 MiB takes tens of seconds.

Heron's figure: wall time of ``heron diff A B --format json -o /dev/null``
(a process of its own).  Baseline: building the calls table of both captures
(``heron calls`` on A plus on B), which a diff cannot avoid; the goal is that
the comparison itself adds little on top (≤ 1.5x).

Examples
--------
::

    sudo .venv/bin/python -m bench --only 6
"""

from __future__ import annotations

from bench._common import Interleaved, Row, heron_cmd, ratio, run_measured
from bench.captures import large_capture, real_capture

MIB = 1 << 20


def run(quick: bool) -> list[Row]:
    """Time diff and the two calls tables, round-robin."""
    size = 1 * MIB if quick else 128 * MIB
    a, info = large_capture(real_capture("single", quick), size, "large")
    # --quick diffs the capture against itself: one real capture fewer to record.
    b = a if quick else large_capture(real_capture("single-b", quick), size, "large-b")[0]
    reps = 1
    h = heron_cmd()
    wall = Interleaved()
    for _ in range(reps):
        t = run_measured(
            [*h, "diff", str(a), str(b), "--format", "json", "-o", "/dev/null"],
            check=False,
            timeout=1200,
        )
        if t.returncode not in (0, 1):
            raise RuntimeError(f"heron diff exited {t.returncode}: {t.stderr.strip()[-300:]}")
        wall.add("diff", t.wall_s)
        both = 0.0
        for p in (a, b):
            both += run_measured(
                [*h, "calls", str(p), "--format", "csv", "-o", "/dev/null"], timeout=1200
            ).wall_s
        wall.add("calls", both)
    r = ratio(wall.median("diff"), wall.median("calls"))
    mb = info["plaintext"] / 1e6
    return [
        Row(
            f"6. `heron diff` of two {mb:.0f} MB-plaintext captures vs `heron calls` on both",
            wall.measure("diff", "s", 2),
            wall.measure("calls", "s", 2),
            r,
            "≤ 1.5x",
            None if r is None else r <= 1.5,
        )
    ]
