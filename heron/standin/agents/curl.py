"""curl agent: runs ``curl --http2 --cacert ...`` as a subprocess (one process per call).

Run::

    python -m heron.standin.agents.curl --base-url https://127.0.0.1:PORT --ca ca.pem [--http1.1]

The exact command lines (also printed, one per call, prefixed ``$``)::

    curl --http2 --cacert CA -sS -N --fail-with-body -o - -w '\\n%{http_version}' \\
         -H 'content-type: application/json' -H 'authorization: Bearer sk-standin-fake-openai-key' \\
         --data-binary @- https://127.0.0.1:PORT/v1/chat/completions        # body on stdin
    (the same with a streamed body; and /v1/messages with x-api-key and
    anthropic-version headers, streamed)

``--http2`` makes curl offer ``h2`` by ALPN; ``%{http_version}`` must come
back as ``2`` (``1.1`` with ``--http1.1``).  curl's TLS is the system
libssl, so this is also the "another process, not Python" case.

Examples
--------
>>> cmd = command("https://h:1", "/v1/x", ca="ca.pem", http="2")
>>> cmd[:4]
['curl', '--http2', '--cacert', 'ca.pem']
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from collections.abc import Sequence

from heron.standin.agents._common import (
    FAKE_ANTHROPIC_KEY,
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
)

NAME = "curl"


def command(
    base: str, path: str, *, ca: str | None, http: str, headers: Sequence[str] = ()
) -> list[str]:
    """The curl argv for one POST with the body on stdin.

    Examples
    --------
    >>> "--http1.1" in command("https://h:1", "/p", ca=None, http="1.1")
    True
    """
    cmd = ["curl", "--http2" if http == "2" else "--http1.1"]
    if ca:
        cmd += ["--cacert", ca]
    cmd += ["-sS", "-N", "--fail-with-body", "-o", "-", "-w", "\\n%{http_version}"]
    cmd += ["-H", "content-type: application/json"]
    for h in headers:
        cmd += ["-H", h]
    cmd += ["--data-binary", "@-", base + path]
    return cmd


def _run(cmd: list[str], body: dict[str, object]) -> tuple[str, str]:
    print("$ " + shlex.join(cmd) + " <<< " + shlex.quote(json.dumps(body)), flush=True)
    proc = subprocess.run(cmd, input=json.dumps(body).encode(), capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace")
    check(
        proc.returncode == 0,
        f"curl exited {proc.returncode}: {proc.stderr.decode(errors='replace').strip()} {out[:200]}",
    )
    body_text, _, version = out.rpartition("\n")
    return body_text, version.strip()


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument(
        "--http1.1", dest="http11", action="store_true", help="use HTTP/1.1 instead of HTTP/2"
    )
    args = finish_args(p, argv)
    check(shutil.which("curl"), "curl is not installed")
    http = "1.1" if args.http11 or not args.base_url.startswith("https:") else "2"
    ca = args.ca if args.base_url.startswith("https:") else None
    oa = [f"authorization: Bearer {FAKE_OPENAI_KEY}"]
    summary = Summary(NAME)

    text, ver = _run(
        command(args.base_url, "/v1/chat/completions", ca=ca, http=http, headers=oa),
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello from curl"}]},
    )
    check(ver == http, f"expected HTTP version {http}, found {ver}")
    check(json.loads(text)["choices"][0]["message"]["content"], "expected chat text")
    summary.calls += 1

    text, ver = _run(
        command(args.base_url, "/v1/chat/completions", ca=ca, http=http, headers=oa),
        {
            "model": "gpt-4o-mini",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "stream to curl"}],
        },
    )
    check(ver == http and text.rstrip().endswith("data: [DONE]"), "expected a complete chat stream")
    summary.calls += 1

    text, ver = _run(
        command(
            args.base_url,
            "/v1/messages",
            ca=ca,
            http=http,
            headers=[f"x-api-key: {FAKE_ANTHROPIC_KEY}", "anthropic-version: 2023-06-01"],
        ),
        {
            "model": "claude-haiku-4-5",
            "max_tokens": 100,
            "stream": True,
            "messages": [{"role": "user", "content": "curl to anthropic"}],
        },
    )
    check(ver == http and "event: message_stop" in text, "expected a complete Anthropic stream")
    summary.calls += 1
    summary.extra["http"] = http
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
