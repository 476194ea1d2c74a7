"""An OpenAI SDK agent behind a local gateway it starts itself (a LiteLLM-style proxy).

Run::

    python -m heron.standin.agents.proxied --base-url https://127.0.0.1:PORT --ca ca.pem \\
        --gateway-port 4000

Starts :mod:`heron.standin.gateway` as a child process on
``--gateway-port`` (so a capture of this command traces both), forwarding
to ``--base-url``, then talks to the gateway over plain HTTP (HTTPS with
``--gateway-tls``, the stand-in's certificate) with the model alias
``team-default``:

1. one non-streamed ``chat.completions.create``;
2. a streamed tool loop (``read_file`` offered, scenario ``tools=1``):
   one round of tool calls, then the final answer.

Three calls in all, each seen three times by a capture (see the gateway).

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from heron.standin.agents._common import (
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    ssl_context,
)
from heron.standin.agents.openai_sync import tool_loop

NAME = "proxied"
ALIAS = "team-default"


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, f"the gateway exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"the gateway did not listen on port {port} within {timeout:g} s")


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the gateway and the agent; returns the agent's summary."""
    import openai

    p = parser(NAME, __doc__)
    p.add_argument("--gateway-port", type=int, default=4000)
    p.add_argument(
        "--gateway-tls",
        action="store_true",
        help="the gateway serves HTTPS (the stand-in's certificate, next to --ca)",
    )
    args = finish_args(p, argv)
    check(not args.gateway_tls or args.ca, "--gateway-tls needs --ca")
    summary = Summary(NAME)
    cmd = [sys.executable, "-m", "heron.standin.gateway", "--port", str(args.gateway_port)]
    cmd += ["--upstream", args.base_url] + (["--ca", args.ca] if args.ca else [])
    if args.gateway_tls:
        cmd += ["--tls-dir", str(Path(args.ca).parent)]
    gw = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    try:
        _wait_listening(args.gateway_port, gw)
        scheme = "https" if args.gateway_tls else "http"
        client = openai.OpenAI(
            base_url=f"{scheme}://127.0.0.1:{args.gateway_port}/v1",
            api_key=FAKE_OPENAI_KEY,
            http_client=openai.DefaultHttpxClient(verify=ssl_context(args.ca))
            if args.gateway_tls
            else None,
        )
        resp = client.chat.completions.create(
            model=ALIAS, messages=[{"role": "user", "content": "Say hello in five words."}]
        )
        summary.calls += 1
        check(resp.choices[0].message.content, "expected text through the gateway")
        check(resp.model == "gpt-4o-mini", f"expected the mapped model, found {resp.model!r}")
        answer, _ = tool_loop(
            client,
            summary,
            model=ALIAS,
            tools=["read_file"],
            scenario="tools=1",
            prompt="Read src/calc.py and summarise it.",
            stream=True,
        )
        check(answer, "expected a final answer through the gateway")
    finally:
        gw.terminate()
        try:
            gw.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gw.kill()
            gw.wait()
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    sys.exit(main())
