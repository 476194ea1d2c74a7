"""``python -m bench [--quick] [--only N ...]``: run the scenarios, print one table.

The full run writes ``bench/RESULTS.md`` (the table, the machine and the
date); ``--quick`` writes ``bench/out/RESULTS-quick.md`` and ``--only``
``bench/out/RESULTS-only.md`` instead, so neither the smoke test nor a
partial run replaces the committed results of a full one.  A scenario that fails still
gets a row, carrying its error, and the table is always printed.

Exit status: 0 when every scenario ran (a missed goal is a result, not a
failure), 1 when one raised an error.

Examples
--------
Run everything (root, a few minutes)::

    sudo .venv/bin/python -m bench

Only the capture-overhead and bytes-on-disk scenarios, quickly::

    sudo .venv/bin/python -m bench --quick --only 1 --only 4
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench._common import OUT, BenchSkip, Row, as_row, machine_description, markdown_table

#: (key for --only, module, title).  ``format`` is the format helper's writer/reader bench.
SCENARIOS: list[tuple[str, str, str]] = [
    ("1", "bench.s1_tls_overhead", "capture overhead per TLS call"),
    ("2", "bench.s2_agent_overhead", "agent-level overhead"),
    ("3", "bench.s3_throughput", "capture throughput"),
    ("4", "bench.s4_disk", "bytes on disk"),
    ("format", "bench.format_bench", "format writer/reader"),
    ("5", "bench.s5_read", "reading and analysis"),
    ("6", "bench.s6_diff", "diff"),
]


def run_scenario(key: str, module: str, title: str, quick: bool) -> list[Row]:
    """Import and run one scenario; any failure becomes a row carrying the error."""
    t0 = time.monotonic()
    print(f"[bench] {key}: {title} ...", file=sys.stderr, flush=True)
    try:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            # A scenario another engineer has not landed yet (bench/format_bench.py).
            raise BenchSkip(f"skipped: {module} is not in this checkout") from None
        run: Callable[[bool], list[object]] = mod.run
        rows = [as_row(r) for r in run(quick)]
        # Every row names its scenario ("1. ...", "F. ..." for the format bench).
        label = _label(key)
        for r in rows:
            if not r.scenario.startswith(f"{label}."):
                r.scenario = f"{label}. {r.scenario}"
        if not rows:
            rows = [Row(f"{label}. {title}", error="the scenario produced no rows")]
    except BenchSkip as e:
        print(f"[bench] {key}: {e}", file=sys.stderr, flush=True)
        rows = [Row(f"{_label(key)}. {title}", error=str(e))]
    except Exception as e:
        traceback.print_exc()
        msg = f"{type(e).__name__}: {e}".splitlines()[0][:300]
        rows = [Row(f"{_label(key)}. {title}", error=msg)]
    print(f"[bench] {key}: done in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
    return rows


def _label(key: str) -> str:
    return "F" if key == "format" else key


def render(rows: list[Row], *, quick: bool, elapsed: float, notes: list[str]) -> str:
    """The whole RESULTS.md text: title, date, machine, table, notes."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_description()
    out = [
        "# Heron benchmark results" + (" (--quick)" if quick else ""),
        "",
        f"Run {now} with `python -m bench{' --quick' if quick else ''}` in {elapsed:.0f} s.",
        "Each figure is the median of several runs, with (min–max, n=runs); the ratio is",
        "Heron's figure over the baseline's, both measured in this same run and interleaved,",
        "because this 2-core machine is shared and noisy. Regenerate with `make bench`.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- {k}: {v}" for k, v in machine.items()]
    out += ["", "## Results", "", markdown_table(rows), ""]
    if notes:
        out += ["## How each scenario is measured", "", *notes, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="reduced sizes (the test suite's smoke test)"
    )
    ap.add_argument(
        "--only",
        action="append",
        metavar="N",
        help="run only scenario N (1-6, or 'format'); repeatable",
    )
    ap.add_argument("--output", type=Path, help="where to write the results markdown")
    args = ap.parse_args(argv)
    keys = [k for k, _, _ in SCENARIOS]
    if args.only:
        bad = [k for k in args.only if k not in keys]
        if bad:
            ap.error(f"unknown scenario {bad[0]!r}; expected one of {', '.join(keys)}")
    OUT.mkdir(parents=True, exist_ok=True)
    # Time heron as an install runs it: bytecode compiled once (pip compiles a
    # wheel at install time), not on every command because the tree is an
    # editable checkout and PYTHONDONTWRITEBYTECODE may be set.
    compileall.compile_dir(Path(__file__).parent.parent / "heron", quiet=1)
    t0 = time.monotonic()
    rows: list[Row] = []
    notes: list[str] = []
    for key, module, title in SCENARIOS:
        if args.only and key not in args.only:
            continue
        rows += run_scenario(key, module, title, args.quick)
        try:
            doc = importlib.import_module(module).__doc__ or ""
        except Exception:
            doc = ""
        if doc:
            notes.append(f"### {_label(key)}. {title}\n\n{_method(doc)}\n")
    elapsed = time.monotonic() - t0
    text = render(rows, quick=args.quick, elapsed=elapsed, notes=notes)
    if args.output:
        dest = args.output
    elif args.quick:
        dest = OUT / "RESULTS-quick.md"
    elif args.only:
        dest = OUT / "RESULTS-only.md"  # a partial run keeps the full results
    else:
        dest = Path(__file__).parent / "RESULTS.md"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)
    print(markdown_table(rows))
    print(f"\n(written to {dest})")
    return 1 if any(r.status == "error" for r in rows) else 0


def _method(doc: str) -> str:
    """The module docstring up to its Examples section (that is the method text)."""
    return doc.split("\nExamples\n")[0].strip()


if __name__ == "__main__":
    sys.exit(main())
