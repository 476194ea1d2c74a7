"""Run the stand-in provider in a subprocess for tests, benchmarks and the demo.

The server runs in its own process so that the test process is never the
server: a capture of the test (or of an agent) then sees only client-side
TLS, as in real life.

Examples
--------
>>> with StandIn() as s:                         # doctest: +SKIP
...     s.https_url, s.http_url, s.ca_file
('https://127.0.0.1:41234', 'http://127.0.0.1:40111', '/tmp/.../ca.pem')
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from heron.standin.errors import StandInError
from heron.standin.log import LogEntry, read_log

_START_TIMEOUT_S = 30.0


class StandIn:
    """The stand-in provider as a context-managed subprocess.

    Parameters
    ----------
    log_path:
        Where the server appends its exchange log; a temporary file if None.
    latency_ms, ttft_ms, chunk_ms:
        Server-wide default delays (a request's scenario can override them).
    port, plain_port:
        TLS and plain ports; 0 picks free ones.  ``plain_port=None`` opens
        no plain port.  Captures record plain HTTP only on their configured
        ports (default 11434, 8000, 8080, 4000, 80): pass one of those here
        when the plain traffic must be captured.
    cert_dir:
        Directory for the CA and server certificate (reused if present).
    env:
        Extra environment for the server process.
    client_pids:
        Log ``client_pid``, the process owning each client socket (a /proc
        scan per connection; see :mod:`heron.standin.peers`).  The server
        must be able to read the client's ``/proc/PID/fd`` (same user or root).

    Attributes
    ----------
    https_url, http_url, ca_file, log_path, pid, tls_port, plain_port

    Examples
    --------
    >>> with StandIn(latency_ms=0) as s:         # doctest: +SKIP
    ...     import httpx, ssl
    ...     ctx = ssl.create_default_context(cafile=s.ca_file)
    ...     httpx.get(s.https_url + "/healthz", verify=ctx).json()
    {'status': 'ok'}
    """

    def __init__(
        self,
        log_path: str | Path | None = None,
        *,
        latency_ms: int = 0,
        ttft_ms: int = 0,
        chunk_ms: int = 0,
        port: int = 0,
        plain_port: int | None = 0,
        cert_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
        client_pids: bool = False,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="heron-standin-")
        tmp = Path(self._tmp.name)
        self.log_path = Path(log_path) if log_path else tmp / "exchanges.jsonl"
        self.cert_dir = Path(cert_dir) if cert_dir else tmp / "certs"
        self._ready = tmp / "ready.json"
        self._stderr_path = tmp / "server.stderr"
        self._args = [
            sys.executable,
            "-m",
            "heron.standin",
            "serve",
            "--port",
            str(port),
            "--cert-dir",
            str(self.cert_dir),
            "--log",
            str(self.log_path),
            "--ready-file",
            str(self._ready),
            "--latency-ms",
            str(latency_ms),
            "--ttft-ms",
            str(ttft_ms),
            "--chunk-ms",
            str(chunk_ms),
            "--exit-with-parent",
        ]
        if client_pids:
            self._args.append("--client-pids")
        if plain_port is None:
            self._args.append("--no-plain")
        else:
            self._args += ["--plain-port", str(plain_port)]
        self._env = {**os.environ, **(env or {})}
        self._proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> StandIn:
        """Start the server and wait until it listens (raises StandInError)."""
        if self._proc is not None:
            return self
        repo_root = str(Path(__file__).resolve().parents[2])
        env = dict(self._env)
        env["PYTHONPATH"] = repo_root + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        with open(self._stderr_path, "wb") as err:
            self._proc = subprocess.Popen(
                self._args, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._ready.exists():
            if self._proc.poll() is not None:
                raise StandInError(
                    f"stand-in server exited with status {self._proc.returncode} before listening: "
                    f"{self._stderr().strip()[-2000:]}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StandInError(f"stand-in server: not listening after {_START_TIMEOUT_S:.0f}s")
            time.sleep(0.02)
        self.info = json.loads(self._ready.read_text())
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        """Stop the server and remove its temporary files (not a given log_path)."""
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _stderr(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ access

    @property
    def pid(self) -> int:
        """The server process id."""
        return int(self.info["pid"])

    @property
    def https_url(self) -> str:
        """``https://127.0.0.1:PORT`` (HTTP/1.1 and HTTP/2 by ALPN)."""
        return str(self.info["https_url"])

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT`` (plain HTTP/1.1); raises if disabled."""
        url = self.info.get("http_url")
        if not url:
            raise StandInError("stand-in: started with plain_port=None, so there is no http_url")
        return str(url)

    @property
    def tls_port(self) -> int:
        """The TLS port."""
        return int(self.info["tls_port"])

    @property
    def plain_port(self) -> int | None:
        """The plain-HTTP port, or None."""
        p = self.info.get("plain_port")
        return int(p) if p else None

    @property
    def ca_file(self) -> str:
        """Path of the CA certificate that clients must trust."""
        return str(self.info["ca_file"])

    def client_env(self) -> dict[str, str]:
        """Environment variables that make common clients trust the stand-in.

        Examples
        --------
        >>> with StandIn() as s:                     # doctest: +SKIP
        ...     subprocess.run(["node", "agent.mjs"], env={**os.environ, **s.client_env()})
        """
        return {
            "SSL_CERT_FILE": self.ca_file,
            "NODE_EXTRA_CA_CERTS": self.ca_file,
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "CURL_CA_BUNDLE": self.ca_file,
            "OPENAI_API_KEY": "sk-standin-fake",
            "ANTHROPIC_API_KEY": "sk-ant-standin-fake",
        }

    def entries(self) -> list[LogEntry]:
        """Every exchange logged so far (complete lines only).

        Examples
        --------
        >>> with StandIn() as s:                     # doctest: +SKIP
        ...     [e.path for e in s.entries()]
        []
        """
        return read_log(self.log_path)

    def wait_for_entries(self, n: int, timeout: float = 10.0) -> list[LogEntry]:
        """Wait until at least ``n`` exchanges are logged, then return all.

        The server logs an exchange once its response is sent, which can be
        a moment after the client has read it.
        """
        deadline = time.monotonic() + timeout
        while True:
            got = self.entries()
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.01)
