"""Scenario 5: reading and analysing a large capture, against the decode floor; bounded memory.

Corpus: the real ``single`` capture of scenario 4 (``bench/captures.py``),
**replayed** through :class:`heron.format.Writer` with shifted pids,
connection ids and timestamps until it holds 512 MiB of plaintext (the full
run; 2 MiB in ``--quick``), and a second one of half that size.  These are
generated, not recorded for that long: each copy is the real recorded
conversation, as a new process on new connections later in time.  Built
once and cached in ``bench/out/corpus/``.

Each command runs as its own process (wall time from start to exit, peak RSS
from ``wait4``), round-robin, five times (once only when a run takes more
than 40 s, so the whole bench stays within minutes):

* the **decode floor** (``bench/read_tools.py floor``): zstd-decompress and
  msgpack-decode the same records (re-encoded once as plain zstd-3 msgpack
  chunks, payloads whole), nothing else;
* record iteration: ``for rec in heron.format.Reader(path)`` (DATA payloads
  rebuilt from the writer's deduplication);
* ``heron info``;
* ``heron calls --format csv -o /dev/null`` (reassembly, HTTP and provider
  parsing, the calls table).  On a capture this large it runs on two
  processes (``heron.analyze.pipeline``: a forked child reads and
  reassembles while the command builds the tables), so it is also timed
  with ``HERON_JOBS=1``, all in one process, as on a one-CPU machine.

Memory: peak RSS of
each command on the full capture over its peak on the half-size one (bounded
means close to 1x, not 2x).

Examples
--------
::

    sudo .venv/bin/python -m bench --only 5
"""

from __future__ import annotations

import os
from pathlib import Path

from bench._common import PY, Interleaved, Row, heron_cmd, ratio, run_measured
from bench.captures import large_capture, real_capture
from bench.read_tools import make_floor_file

MIB = 1 << 20
#: A command that took longer than this is not repeated (keeps the run to minutes).
SLOW_S = 40.0


def floor_file(path: Path) -> Path:
    """The decode-floor re-encoding of ``path`` (``bench/read_tools.py``), cached next to it."""
    dest = path.with_suffix(".floor")
    if not dest.exists() or dest.stat().st_mtime_ns < path.stat().st_mtime_ns:
        tmp = dest.with_suffix(".floor.tmp")
        make_floor_file(path, tmp)
        tmp.replace(dest)
    return dest


def commands(path: Path) -> dict[str, list[str]]:
    """The timed command lines for one capture."""
    return {
        "floor": [PY, "-m", "bench.read_tools", "floor", str(floor_file(path))],
        "iterate": [PY, "-m", "bench.read_tools", "iterate", str(path)],
        "info": [*heron_cmd(), "info", str(path)],
        "calls": [*heron_cmd(), "calls", str(path), "--format", "csv", "-o", "/dev/null"],
        "calls1": [*heron_cmd(), "calls", str(path), "--format", "csv", "-o", "/dev/null"],
    }


#: Extra environment per command (``calls1``: the one-process pass).
ENV = {"calls1": {"HERON_JOBS": "1"}}


def sized_captures(quick: bool) -> list[tuple[Path, dict[str, int]]]:
    """(half, full) large captures grown from the real single-conversation capture."""
    seed = real_capture("single", quick)
    full = 2 * MIB if quick else 512 * MIB
    return [large_capture(seed, full // 2, "large"), large_capture(seed, full, "large")]


def run(quick: bool) -> list[Row]:
    """Time every command on both sizes; rows as in the module docstring."""
    (half, _half_info), (full, full_info) = sized_captures(quick)
    reps = 1 if quick else 5
    wall, rss = Interleaved(), Interleaved()
    for rep in range(reps):
        for size, path in (("half", half), ("full", full)):
            for name, cmd in commands(path).items():
                if name == "calls" and size == "half" and rep > 0:
                    continue  # only its memory is needed at half size
                if name == "calls1" and size == "half":
                    continue
                if rep > 0 and wall.median(f"{size}/{name}") > SLOW_S:
                    continue  # one run of a command this slow is enough to judge it
                extra = ENV.get(name)
                t = run_measured(cmd, timeout=1800, env={**os.environ, **extra} if extra else None)
                wall.add(f"{size}/{name}", t.wall_s)
                rss.add(f"{size}/{name}", t.maxrss_kib / 1024)
    mb = full_info["plaintext"] / 1e6
    label = f"{mb:.0f} MB plaintext, {full.stat().st_size / 1e6:.1f} MB file"
    rows = []
    floor = wall.median("full/floor")
    for name, title, goal, limit in (
        ("calls", "`heron calls`", "≤ 3x decode floor", 3.0),
        ("calls1", "`heron calls` in one process (HERON_JOBS=1)", "info", None),
        ("iterate", "record iteration (Reader)", "≤ 2x decode floor", 2.0),
        ("info", "`heron info`", "info", None),
    ):
        r = ratio(wall.median(f"full/{name}"), floor)
        rows.append(
            Row(
                f"5. {title}, {label}",
                wall.measure(f"full/{name}", "s", 2),
                wall.measure("full/floor", "s", 2),
                r,
                goal,
                None if limit is None or r is None else r <= limit,
                note=f"{mb / wall.median(f'full/{name}'):.0f} MB/s of plaintext",
            )
        )
    it = wall.median("full/iterate")
    rows.append(
        Row(
            f"5. `heron calls` vs record iteration, {label}",
            wall.measure("full/calls", "s", 2),
            wall.measure("full/iterate", "s", 2),
            ratio(wall.median("full/calls"), it),
            "info",
        )
    )
    for name, title in (("calls", "`heron calls`"), ("iterate", "record iteration")):
        r = ratio(rss.median(f"full/{name}"), rss.median(f"half/{name}"))
        rows.append(
            Row(
                f"5. peak RSS of {title}, {mb:.0f} MB vs {mb / 2:.0f} MB plaintext",
                rss.measure(f"full/{name}", "MiB", 0),
                rss.measure(f"half/{name}", "MiB", 0),
                r,
                "≤ 1.25x (bounded)",
                None if r is None else r <= 1.25,
            )
        )
    return rows
