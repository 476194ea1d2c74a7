"""Several threads, each with its own OpenAI client and TLS connection, calling at once.

Run::

    python -m heron.standin.agents.threads --base-url https://127.0.0.1:PORT --ca ca.pem [--threads 4 --calls 3]

Each thread makes ``--calls`` non-streamed chat completions on its own
keep-alive connection; a barrier starts them together so the connections
really overlap.  Each request names its thread (``thread T call C``) so a
capture can check that bytes never cross between connections.  For each
thread the agent prints ``thread index=T tid=<native id> port=<local port>``.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import threading
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

NAME = "threads"


def _local_port(raw: Any) -> int | None:
    stream = raw.http_response.extensions.get("network_stream")
    if stream is None:
        return None
    addr = stream.get_extra_info("client_addr")
    return int(addr[1]) if addr else None


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--calls", type=int, default=3)
    args = finish_args(p, argv)
    summary = Summary(NAME)
    barrier = threading.Barrier(args.threads)
    errors: list[str] = []
    report: dict[int, tuple[int, set[int | None]]] = {}
    lock = threading.Lock()

    def work(t: int) -> None:
        try:
            client = openai_client(args)
            ports: set[int | None] = set()
            barrier.wait(timeout=30)
            for c in range(args.calls):
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini",
                    messages=[
                        {"role": "user", "content": f"thread {t} call {c}: " + f"t{t}" * 200}
                    ],
                )
                ports.add(_local_port(raw))
                check(raw.parse().choices[0].message.content, f"thread {t}: expected text")
            client.close()
            with lock:
                report[t] = (threading.get_native_id(), ports)
        except Exception as e:  # collected and reported by the main thread
            with lock:
                errors.append(f"thread {t}: {type(e).__name__}: {e}")

    workers = [
        threading.Thread(target=work, args=(t,), name=f"agent-{t}") for t in range(args.threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    check(not errors, "; ".join(errors))
    for t in sorted(report):
        tid, ports = report[t]
        print(f"thread index={t} tid={tid} port={','.join(str(p) for p in sorted(ports, key=str))}")
    all_ports = [p for _, ps in report.values() for p in ps]
    check(
        len(all_ports) == len(set(all_ports)),
        f"expected one connection per thread, found ports {all_ports}",
    )
    summary.calls = args.threads * args.calls
    summary.extra["threads"] = args.threads
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
