"""A local LLM gateway, the way a LiteLLM proxy runs one: agents call it, it calls the provider.

Run::

    python -m heron.standin.gateway --port 4000 --upstream https://127.0.0.1:PORT --ca ca.pem

An OpenAI-compatible HTTP/1.1 server on loopback (plain HTTP, as a local
LiteLLM proxy listens by default, or HTTPS with ``--tls-dir``; keep-alive
on) that forwards each
request to ``--upstream`` over TLS with its own ``httpx`` client, as a
gateway does:

* the model alias ``team-default`` becomes ``gpt-4o-mini`` (a gateway's
  model map; any other model name passes through);
* the gateway's own key replaces the agent's ``Authorization``;
* the response goes back as it arrives: status, ``Content-Type``, and the
  body chunk by chunk (chunked transfer coding), so an SSE stream stays a
  stream.

A capture that traces both the agent and the gateway sees every call
three times -- the agent's request, the gateway's server side of it, and
the gateway's own request upstream -- which is what
:func:`heron.analyze.duplicates.find_duplicates` recognises.

Examples
--------
>>> rewrite_model(b'{"model": "team-default", "messages": []}')
b'{"model": "gpt-4o-mini", "messages": []}'
>>> rewrite_model(b'not json')
b'not json'
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from heron.standin.agents._common import ssl_context
from heron.standin.certs import ensure_certs, server_context

#: The gateway's model map: alias -> upstream model.
MODEL_MAP = {"team-default": "gpt-4o-mini"}
GATEWAY_KEY = "sk-standin-gateway-upstream-key"
#: Request headers a gateway does not copy upstream (hop-by-hop, or its own).
_DROP = {"host", "content-length", "connection", "authorization", "accept-encoding"}


def rewrite_model(body: bytes) -> bytes:
    """The request body with its model alias mapped (unchanged if not a JSON object)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict) or doc.get("model") not in MODEL_MAP:
        return body
    doc["model"] = MODEL_MAP[doc["model"]]
    return json.dumps(doc).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real gateways do
    server: _Gateway

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = rewrite_model(self.rfile.read(n))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
        headers["Authorization"] = f"Bearer {GATEWAY_KEY}"
        url = self.server.upstream + self.path
        try:
            with self.server.client.stream("POST", url, content=body, headers=headers) as r:
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "application/json"))
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in r.iter_raw():
                    if part:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except httpx.HTTPError as e:
            msg = json.dumps({"error": {"message": f"upstream: {e}"}}).encode()
            self.send_response(502)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the agent's output is the test's


class _Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, upstream: str, ca: str | None, tls_dir: str | None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        if tls_dir is not None:  # serve HTTPS with the stand-in's certificate
            ctx = server_context(ensure_certs(tls_dir))
            self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.upstream = upstream.rstrip("/")
        self.client = httpx.Client(verify=ssl_context(ca), timeout=60.0)


def serve(
    port: int,
    upstream: str,
    ca: str | None,
    tls_dir: str | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Serve until interrupted (SIGTERM/SIGINT end the process); HTTPS with ``tls_dir``."""
    with _Gateway(port, upstream, ca, tls_dir) as gw:
        scheme = "https" if tls_dir is not None else "http"
        print(f"gateway: listening on {scheme}://127.0.0.1:{gw.server_address[1]}", flush=True)
        if ready is not None:
            ready.set()
        gw.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m heron.standin.gateway --port P --upstream URL [--ca CA]``."""
    p = argparse.ArgumentParser(prog="python -m heron.standin.gateway", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--ca")
    p.add_argument("--tls-dir", help="serve HTTPS with the certificate in this directory")
    args = p.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.port, args.upstream, args.ca, args.tls_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
