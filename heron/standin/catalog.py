"""The agent catalogue: each agent's exact command line and how many exchanges it makes.

One table shared by the stand-in's own tests, capture tests (wrap
``spec.command(...)`` in ``heron-capture -- ...``) and transcript recording
(``python -m heron.standin transcripts DIR``: run agents against fresh
servers and keep each server log as a transcript of real SDK traffic).

Examples
--------
>>> spec = CATALOG["variant_b"]
>>> spec.exchanges, spec.env
(8, {'HERON_VARIANT': 'b'})
>>> spec.command("https://127.0.0.1:8443", "ca.pem")[1:3]
['-m', 'heron.standin.agents.variant']
>>> CATALOG["node_fetch"].command("https://127.0.0.1:8443", "ca.pem")[0]
'node'
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from heron.standin.errors import StandInError

if TYPE_CHECKING:
    from heron.standin.runner import StandIn

_AGENTS_DIR = Path(__file__).resolve().parent / "agents"
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AgentSpec:
    """One agent run: module, arguments, environment, and exchanges it makes.

    Examples
    --------
    >>> spec = AgentSpec("flood", 10, ("--calls", "10"))
    >>> spec.command("https://h:1", "ca.pem")[-2:]
    ['--calls', '10']
    """

    agent: str
    exchanges: int  # HTTP exchanges the server logs for one successful run
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    plain: bool = False  # talks plain HTTP to the server's plain port

    def command(self, base_url: str, ca_file: str | None) -> list[str]:
        """The argv that runs this agent against ``base_url``.

        Examples
        --------
        >>> CATALOG["curl_h1"].command("https://h:1", "ca.pem")[-1]
        '--http1.1'
        """
        if self.agent == "node_fetch":
            return ["node", str(_AGENTS_DIR / "node_fetch.mjs"), "--base-url", base_url]
        cmd = [sys.executable, "-m", f"heron.standin.agents.{self.agent}", "--base-url", base_url]
        if ca_file and base_url.startswith("https:"):
            cmd += ["--ca", ca_file]
        return cmd + list(self.args)

    def environment(self, ca_file: str | None) -> dict[str, str]:
        """Environment additions for this agent (CA trust for node, variant, ...).

        Examples
        --------
        >>> CATALOG["node_fetch"].environment("ca.pem")["NODE_EXTRA_CA_CERTS"]
        'ca.pem'
        """
        env = dict(self.env)
        if ca_file:
            env["NODE_EXTRA_CA_CERTS"] = ca_file
        return env

    def run(
        self, standin: StandIn, *, timeout: float = 120, args: tuple[str, ...] = ()
    ) -> AgentRun:
        """Run the agent against a running stand-in; returns the finished run."""
        base = standin.http_url if self.plain else standin.https_url
        env = {**os.environ, **self.environment(standin.ca_file)}
        env["PYTHONPATH"] = str(_REPO) + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        argv = self.command(base, standin.ca_file) + list(args)
        with subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=_REPO,
        ) as p:
            try:
                out, err = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, err = p.communicate()
                raise StandInError(
                    f"agent {self.agent}: still running after {timeout:.0f}s"
                ) from None
        return AgentRun(argv, p.returncode, out, err, p.pid)


@dataclass(frozen=True)
class AgentRun:
    """A finished agent process: argv, exit status, output, and its pid.

    Examples
    --------
    >>> AgentRun(["x"], 0, "x: ok calls=1 tool_calls=0", "", 123).summary
    'x: ok calls=1 tool_calls=0'
    """

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    pid: int

    @property
    def summary(self) -> str:
        """The agent's last stdout line (its one-line summary)."""
        lines = self.stdout.strip().splitlines()
        return lines[-1] if lines else ""


CATALOG: dict[str, AgentSpec] = {
    "openai_sync": AgentSpec("openai_sync", 6),
    "openai_async": AgentSpec("openai_async", 7),
    "anthropic_stream": AgentSpec("anthropic_stream", 5, ("--stream-error",)),
    "gemini": AgentSpec("gemini", 4),
    "gemini_gzip": AgentSpec("gemini", 4, ("--scenario", "tools=1;encoding=gzip")),
    "httpx_h2": AgentSpec("httpx_h2", 9),
    "node_fetch": AgentSpec("node_fetch", 5),
    "curl_h2": AgentSpec("curl", 3),
    "curl_h1": AgentSpec("curl", 3, ("--http1.1",)),
    "ollama_plain": AgentSpec("ollama_plain", 4, plain=True),
    "threads": AgentSpec("threads", 12, ("--threads", "4", "--calls", "3")),
    "big_h1": AgentSpec("big_request", 1),
    "big_h2": AgentSpec("big_request", 1, ("--http2",)),
    "flood": AgentSpec("flood", 200, ("--calls", "200", "--connections", "2", "--size", "512")),
    "secret": AgentSpec("secret", 8),
    "demo": AgentSpec("demo", 8),
    "variant_a": AgentSpec("variant", 3, env={"HERON_VARIANT": "a"}),
    "variant_b": AgentSpec("variant", 8, env={"HERON_VARIANT": "b"}),
    "bench": AgentSpec("bench_agent", 20, ("--calls", "20")),
}

# Agents whose traffic makes good provider-parsing transcripts.
TRANSCRIPTS = (
    "gemini_gzip",
    "openai_sync",
    "openai_async",
    "anthropic_stream",
    "gemini",
    "httpx_h2",
    "curl_h2",
    "ollama_plain",
    "variant_a",
    "variant_b",
)


def record_transcripts(
    out_dir: str | Path, keys: tuple[str, ...] = TRANSCRIPTS, *, jobs: int = 2
) -> dict[str, Path]:
    """Run agents, each against a fresh stand-in, and keep each server log.

    Writes ``<out_dir>/<key>.jsonl`` (the exchange log, see
    :mod:`heron.standin.log`; load with :func:`heron.standin.read_log` and
    turn entries into ``Exchange`` objects with ``entry.to_exchange()``).

    Examples
    --------
    >>> record_transcripts("/tmp/t", ("gemini",))          # doctest: +SKIP
    {'gemini': PosixPath('/tmp/t/gemini.jsonl')}
    """
    from heron.standin.runner import StandIn

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    unknown = [k for k in keys if k not in CATALOG]
    if unknown:
        raise StandInError(f"unknown agents {unknown}; known: {sorted(CATALOG)}")
    if "node_fetch" in keys and not shutil.which("node"):
        raise StandInError("node_fetch needs node on PATH")
    cert_dir = out / ".certs"

    def one(key: str) -> Path:
        path = out / f"{key}.jsonl"
        path.unlink(missing_ok=True)
        spec = CATALOG[key]
        with StandIn(log_path=path, cert_dir=cert_dir) as s:
            proc = spec.run(s)
            if proc.returncode != 0:
                raise StandInError(
                    f"agent {key} failed (status {proc.returncode}): {proc.stderr.strip()[-500:]}"
                )
            got = len(s.wait_for_entries(spec.exchanges))
            if got != spec.exchanges:
                raise StandInError(
                    f"agent {key}: expected {spec.exchanges} exchanges in the log, found {got}"
                )
        return path

    from heron.standin.certs import ensure_certs

    ensure_certs(cert_dir)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {k: pool.submit(one, k) for k in keys}
        result = {k: f.result() for k, f in futures.items()}
    shutil.rmtree(cert_dir, ignore_errors=True)
    return result
