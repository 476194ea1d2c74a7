"""Benchmark agent: N openai-SDK calls with a growing conversation history.

Run (the per-call latency is the server's: ``serve --latency-ms 50``)::

    python -m heron.standin.agents.bench_agent --base-url https://127.0.0.1:PORT --ca ca.pem --calls 200 [--stream] [--out times.json]

Each call sends the whole conversation so far (user turn, assistant answer,
user turn, ...), so request bodies grow call by call like a real agent's.
The summary line reports wall time and per-call mean/p50/p95 in ms;
``--out`` writes ``{"calls": N, "seconds": S, "per_call_ms": [...]}``.

Examples
--------
>>> percentile([1.0, 2.0, 3.0, 4.0], 50)
2.5
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from heron.standin.agents._common import (
    Summary,
    check,
    finish_args,
    main_wrapper,
    openai_client,
    parser,
)

NAME = "bench_agent"


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0-100) of ``values``.

    Examples
    --------
    >>> percentile([10.0, 20.0], 95)
    19.5
    """
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--out", help="write per-call timings as JSON here")
    args = finish_args(p, argv)
    client = openai_client(args, max_retries=0)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a benchmark assistant."}
    ]
    times: list[float] = []
    t0 = time.perf_counter()
    for i in range(args.calls):
        messages.append(
            {"role": "user", "content": f"Step {i}: continue the analysis of module {i % 17}."}
        )
        c0 = time.perf_counter()
        if args.stream:
            text = ""
            for chunk in client.chat.completions.create(
                model=args.model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            ):
                for ch in chunk.choices:
                    text += ch.delta.content or ""
        else:
            resp = client.chat.completions.create(model=args.model, messages=messages)
            text = resp.choices[0].message.content or ""
        times.append((time.perf_counter() - c0) * 1000)
        check(text, f"call {i}: expected an answer")
        messages.append({"role": "assistant", "content": text})
    seconds = time.perf_counter() - t0
    s = Summary(NAME, calls=args.calls)
    s.extra.update(
        seconds=f"{seconds:.3f}",
        mean_ms=f"{sum(times) / len(times):.2f}" if times else "nan",
        p50_ms=f"{percentile(times, 50):.2f}",
        p95_ms=f"{percentile(times, 95):.2f}",
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"calls": args.calls, "seconds": seconds, "per_call_ms": times}, f)
    return s


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
