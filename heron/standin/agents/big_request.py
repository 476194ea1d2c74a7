"""One chat-completions request whose body is exactly ``--bytes`` long (default 3 MiB).

Run::

    python -m heron.standin.agents.big_request --base-url https://127.0.0.1:PORT --ca ca.pem [--bytes 3145728] [--http2]

The body is valid JSON padded with a deterministic text so its length is
exact; the server's ``prompt_tokens`` must equal ``(bytes + 3) // 4``,
proving it received every byte.  ``--response-kb N`` also asks for a large
answer (scenario ``big_kb``).

Examples
--------
>>> len(make_body(100_000))
100000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import httpx

from heron.standin.agents._common import (
    FAKE_OPENAI_KEY,
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    scenario_headers,
    ssl_context,
)

NAME = "big_request"
_PAD = "All work and no play makes the context window very long. "


def make_body(size: int, model: str = "gpt-4o-mini") -> bytes:
    """A chat-completions JSON body of exactly ``size`` bytes.

    Examples
    --------
    >>> json.loads(make_body(500))["model"]
    'gpt-4o-mini'
    """
    skeleton = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": ""}]}, separators=(",", ":")
    )
    need = size - len(skeleton)
    if need < 0:
        raise ValueError(f"--bytes: expected at least {len(skeleton)}, found {size}")
    pad = (_PAD * (need // len(_PAD) + 1))[:need]
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": pad}]}, separators=(",", ":")
    ).encode()
    assert len(body) == size
    return body


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--bytes", type=int, default=3 * 1024 * 1024)
    p.add_argument("--http2", action="store_true")
    p.add_argument("--response-kb", type=int, default=0)
    args = finish_args(p, argv)
    body = make_body(args.bytes)
    headers = {
        "content-type": "application/json",
        "authorization": f"Bearer {FAKE_OPENAI_KEY}",
        **scenario_headers(f"big_kb={args.response_kb}" if args.response_kb else None),
    }
    verify = ssl_context(args.ca) if args.base_url.startswith("https:") else False
    with httpx.Client(http2=args.http2, verify=verify, timeout=120) as http:
        r = http.post(f"{args.base_url}/v1/chat/completions", content=body, headers=headers)
    check(r.status_code == 200, f"expected 200, found {r.status_code}: {r.text[:200]}")
    usage = r.json()["usage"]
    check(
        usage["prompt_tokens"] == (args.bytes + 3) // 4,
        f"expected prompt_tokens {(args.bytes + 3) // 4} (server saw every byte), found {usage['prompt_tokens']}",
    )
    s = Summary(NAME, calls=1)
    s.extra.update(request_bytes=len(body), response_bytes=len(r.content), http=r.http_version)
    return s


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
