"""Where `heron calls` spends its time: one line per analysis phase, for profiling work.

Not a scenario (no ratios, no goals): a developer's tool to see which stage
of the analysis pipeline to work on.  Each phase runs on the previous one's
output held in memory, so the figures add up to roughly what one streaming
pass costs, without the overlap:

* ``read``: ``list(heron.format.Reader(FILE))``, DATA payloads rebuilt;
* ``reassemble``: :func:`heron.analyze.reassembly.iter_exchanges` over them;
* ``observe``: :meth:`heron.analyze.build.Analysis.observe` on every record;
* ``add_exchange``: provider parsing, conversations, tools, loops per call;
* ``finish``: building the Polars tables.

``--profile PHASE`` runs that phase under cProfile and prints the top
functions by own time.

Examples
--------
::

    .venv/bin/python -m bench.phases bench/out/corpus/large-256M.heron
    .venv/bin/python -m bench.phases FILE --profile reassemble
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import time
from collections.abc import Callable
from typing import Any


def main(argv: list[str] | None = None) -> None:
    """Time each phase on FILE; optionally profile one."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument(
        "--profile", choices=["read", "reassemble", "observe", "add_exchange", "finish"]
    )
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args(argv)
    was = gc.isenabled()
    gc.disable()  # as Capture._pass does
    try:
        _run(args, {})
    finally:
        if was:
            gc.enable()


def _run(args: argparse.Namespace, state: dict[str, Any]) -> None:
    """Run (and time) the phases in order, each on the previous one's output."""
    from heron.analyze.build import Analysis
    from heron.analyze.reassembly import iter_exchanges
    from heron.format import Reader

    analysis = Analysis("phases", keep_bodies=False)

    def read() -> None:
        state["recs"] = list(Reader(args.file))

    def reassemble() -> None:
        state["exs"] = list(iter_exchanges(state["recs"]))

    def observe() -> None:
        for r in state["recs"]:
            analysis.observe(r)

    def add_exchange() -> None:
        for e in state["exs"]:
            analysis.add_exchange(e)

    def finish() -> None:
        state["tables"] = analysis.finish()

    phases: list[tuple[str, Callable[[], None]]] = [
        ("read", read),
        ("reassemble", reassemble),
        ("observe", observe),
        ("add_exchange", add_exchange),
        ("finish", finish),
    ]
    total = 0.0
    for name, fn in phases:
        if name == args.profile:
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.runcall(fn)
            dt = time.perf_counter() - t0
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)
        else:
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
        total += dt
        print(f"{name:>13}: {dt:6.2f} s")
    print(
        f"{'total':>13}: {total:6.2f} s  ({len(state['recs'])} records, "
        f"{len(state['exs'])} exchanges)"
    )


if __name__ == "__main__":
    main()
