"""Send a known secret in credential headers and a ``?key=`` query, over HTTP/1.1 and HTTP/2.

Run::

    python -m heron.standin.agents.secret --base-url https://127.0.0.1:PORT --ca ca.pem [--secret S]

The secret (default :data:`DEFAULT_SECRET`) goes only where credentials go,
never in a body, and the stand-in never echoes it, so after redaction it
must appear nowhere in a capture:

1. openai SDK (HTTP/1.1): ``Authorization: Bearer S``;
2. anthropic SDK (HTTP/1.1): ``x-api-key: S``;
3. httpx, HTTP/1.1 and then ``http2=True``: ``authorization``,
   ``x-api-key``, ``x-goog-api-key``, ``proxy-authorization``, ``api-key``
   and ``cookie`` headers, two requests per connection (over HTTP/2 the
   second one uses the HPACK dynamic table);
4. Gemini-style ``?key=S`` query, over HTTP/1.1 and over HTTP/2.

Examples
--------
>>> main(["--help"])                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from heron.standin.agents._common import (
    Summary,
    check,
    finish_args,
    main_wrapper,
    parser,
    ssl_context,
)

NAME = "secret"
DEFAULT_SECRET = "sk-heron-SECRET-7f3a9c1e5b2d4f60a8"


def run(argv: Sequence[str] | None = None) -> Summary:
    """Run the agent; returns its summary."""
    p = parser(NAME, __doc__)
    p.add_argument("--secret", default=DEFAULT_SECRET)
    args = finish_args(p, argv)
    secret = args.secret
    import anthropic
    import openai

    ctx = ssl_context(args.ca)
    summary = Summary(NAME)
    msgs: Any = [{"role": "user", "content": "credentials test"}]

    oa = openai.OpenAI(
        base_url=args.base_url + "/v1",
        api_key=secret,
        http_client=openai.DefaultHttpxClient(verify=ctx),
    )
    r1 = oa.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=msgs)
    check(
        r1.http_request.headers["authorization"] == f"Bearer {secret}",
        "expected the secret in Authorization",
    )
    summary.calls += 1

    an = anthropic.Anthropic(
        base_url=args.base_url, api_key=secret, http_client=anthropic.DefaultHttpxClient(verify=ctx)
    )
    r2 = an.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=50, messages=msgs
    )
    sent = r2.http_request.headers
    # anthropic 2.x sends the key as a Bearer token; older SDKs used x-api-key.
    check(
        sent.get("x-api-key") == secret or sent.get("authorization") == f"Bearer {secret}",
        "expected the secret in x-api-key or Authorization",
    )
    summary.calls += 1

    cred_headers = {
        "authorization": f"Bearer {secret}",
        "x-api-key": secret,
        "x-goog-api-key": secret,
        "proxy-authorization": f"Basic {secret}",
        "api-key": secret,
        "cookie": f"session={secret}; theme=dark",
    }
    for http2 in (False, True):
        with httpx.Client(http2=http2, verify=ctx, timeout=30) as http:
            for i in range(2):
                r = http.post(
                    f"{args.base_url}/v1/chat/completions",
                    headers=cred_headers,
                    json={
                        "model": "gpt-4o-mini",
                        "messages": [{"role": "user", "content": f"credentials {i}"}],
                    },
                )
                want = "HTTP/2" if http2 else "HTTP/1.1"
                check(
                    r.http_version == want and r.status_code == 200,
                    f"expected {want} 200, found {r.http_version} {r.status_code}",
                )
                check(secret not in r.text, "the stand-in echoed the secret")
                summary.calls += 1
    with httpx.Client(http2=True, verify=ctx, timeout=30) as http:
        gem = {"contents": [{"role": "user", "parts": [{"text": "query-key test"}]}]}
        r = http.post(
            f"{args.base_url}/v1beta/models/gemini-2.0-flash:generateContent?key={secret}", json=gem
        )
        check(
            r.http_version == "HTTP/2" and r.status_code == 200,
            "expected an HTTP/2 generateContent answer",
        )
        summary.calls += 1
    with httpx.Client(http2=False, verify=ctx, timeout=30) as http:
        r = http.post(
            f"{args.base_url}/v1beta/models/gemini-2.0-flash:generateContent?key={secret}&alt=json",
            json=gem,
        )
        check(
            r.http_version == "HTTP/1.1" and r.status_code == 200,
            "expected an HTTP/1.1 generateContent answer",
        )
        summary.calls += 1
    summary.extra["secret_len"] = len(secret)
    return summary


main = main_wrapper(NAME, run)

if __name__ == "__main__":
    raise SystemExit(main())
