"""Many fast calls (for ring-buffer drop tests): ``--calls`` requests as fast as possible.

Run::

    python -m heron.standin.agents.flood --base-url https://127.0.0.1:PORT --ca ca.pem [--calls 1000 --size 4096 --connections 2 --http2]

Each of ``--connections`` threads owns one keep-alive connection and makes
its share of non-streamed chat completions whose user message is ``--size``
bytes, so a capture sees a dense burst of TLS writes and reads.  Every
answer must be a 200; the summary reports the achieved rate.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence

import httpx

from heron.standin.agents._common import (
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    ssl_context,
)

NAME = "flood"


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--size", type=int, default=4096, help="bytes of user text per request")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--http2", action="store_true")
    args = finish_args(p, argv)
    verify = ssl_context(args.ca) if args.base_url.startswith("https:") else False
    headers = {"content-type": "application/json", "authorization": f"Bearer {FAKE_OPENAI_KEY}"}
    failures: list[str] = []
    done = [0] * args.connections

    def work(w: int) -> None:
        n = args.calls // args.connections + (1 if w < args.calls % args.connections else 0)
        try:
            with httpx.Client(http2=args.http2, verify=verify, headers=headers, timeout=60) as http:
                for i in range(n):
                    text = f"flood {w}/{i} " + "x" * args.size
                    body = json.dumps(
                        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
                    )
                    r = http.post(f"{args.base_url}/v1/chat/completions", content=body)
                    if r.status_code != 200:
                        failures.append(f"worker {w} call {i}: status {r.status_code}")
                        return
                    done[w] += 1
        except Exception as e:  # reported by the main thread
            failures.append(f"worker {w}: {type(e).__name__}: {e}")

    t0 = time.monotonic()
    workers = [threading.Thread(target=work, args=(w,)) for w in range(args.connections)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    elapsed = time.monotonic() - t0
    check(not failures, "; ".join(failures[:5]))
    total = sum(done)
    s = Summary(NAME, calls=total)
    s.extra["seconds"] = f"{elapsed:.2f}"
    s.extra["calls_per_s"] = f"{total / elapsed:.0f}" if elapsed else "inf"
    return s


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
