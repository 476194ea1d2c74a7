"""``python -m heron.standin serve``: run the stand-in provider in the foreground.

Examples
--------
>>> from click.testing import CliRunner
>>> CliRunner().invoke(main, ["serve", "--help"]).exit_code
0
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

import click

from heron.standin.app import App
from heron.standin.certs import ensure_certs, server_context
from heron.standin.log import ExchangeLog
from heron.standin.scenario import Scenario
from heron.standin.server import Server


@click.group()
def main() -> None:
    """The Heron stand-in LLM provider (OpenAI, Anthropic, Gemini, Ollama shapes)."""


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback only)."
)
@click.option(
    "--port", type=int, default=0, show_default=True, help="TLS port (0: pick a free one)."
)
@click.option(
    "--plain-port",
    type=int,
    default=0,
    show_default=True,
    help="Plain-HTTP port (0: pick; e.g. 11434).",
)
@click.option("--no-plain", is_flag=True, help="Do not open the plain-HTTP port.")
@click.option(
    "--cert-dir", type=click.Path(file_okay=False), help="Where ca.pem/server.pem/server.key live."
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    help="Append the exchange log (JSONL) here.",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False),
    help="Once listening, write KEY=VALUE lines (STANDIN_BASE_URL, SSL_CERT_FILE, ...) for agents.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False),
    help="Write URLs/ports as JSON here once listening.",
)
@click.option(
    "--exit-with-parent",
    is_flag=True,
    help="Stop when the parent process goes away (no orphaned servers after a killed test run).",
)
@click.option(
    "--client-pids",
    is_flag=True,
    help="Log the pid owning each client socket (client_pid; a /proc scan per connection).",
)
@click.option(
    "--latency-ms", type=int, default=0, show_default=True, help="Default delay before each answer."
)
@click.option(
    "--ttft-ms",
    type=int,
    default=0,
    show_default=True,
    help="Default delay before a stream's first chunk.",
)
@click.option(
    "--chunk-ms",
    type=int,
    default=0,
    show_default=True,
    help="Default delay between stream chunks.",
)
def serve(
    host: str,
    port: int,
    plain_port: int,
    no_plain: bool,
    cert_dir: str | None,
    log_path: str | None,
    ready_file: str | None,
    env_file: str | None,
    client_pids: bool,
    exit_with_parent: bool,
    latency_ms: int,
    ttft_ms: int,
    chunk_ms: int,
) -> None:
    """Serve until SIGINT/SIGTERM and print the URLs to use."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise click.UsageError(f"--host must be a loopback address, found {host!r}")
    cdir = Path(cert_dir) if cert_dir else Path(tempfile.mkdtemp(prefix="heron-standin-"))
    paths = ensure_certs(cdir)
    log = ExchangeLog.open(log_path) if log_path else None
    default = Scenario(latency_ms=latency_ms, ttft_ms=ttft_ms, chunk_ms=chunk_ms)
    server = Server(
        App(default),
        ssl_context=server_context(paths),
        log=log,
        host=host,
        tls_port=port,
        plain_port=None if no_plain else plain_port,
        client_pids=client_pids,
    )

    async def run() -> None:
        try:
            await server.start()
        except OSError as e:
            raise click.ClickException(
                f"cannot listen on {host} (TLS {port}, plain {plain_port}): {e}"
            ) from e
        h = f"[{host}]" if ":" in host else host
        info = {
            "pid": os.getpid(),
            "https_url": f"https://{h}:{server.tls_port}",
            "http_url": f"http://{h}:{server.plain_port}" if server.plain_port else None,
            "tls_port": server.tls_port,
            "plain_port": server.plain_port,
            "ca_file": str(paths.ca),
            "cert_dir": str(cdir),
            "log_path": str(Path(log_path).resolve()) if log_path else None,
        }
        click.echo(f"stand-in https: {info['https_url']}  (HTTP/1.1 + HTTP/2 via ALPN)")
        if info["http_url"]:
            click.echo(f"stand-in http:  {info['http_url']}  (plain HTTP/1.1, h2 prior knowledge)")
        click.echo(
            f"CA file:        {paths.ca}   (SSL_CERT_FILE / NODE_EXTRA_CA_CERTS / curl --cacert)"
        )
        if log_path:
            click.echo(f"exchange log:   {info['log_path']}")
        sys.stdout.flush()
        if env_file:
            env = {
                "STANDIN_BASE_URL": info["https_url"],
                "STANDIN_HTTP_URL": info["http_url"] or "",
                "SSL_CERT_FILE": str(paths.ca),
                "NODE_EXTRA_CA_CERTS": str(paths.ca),
                "CURL_CA_BUNDLE": str(paths.ca),
            }
            _atomic_write(env_file, "".join(f"{k}={v}\n" for k, v in env.items()))
        if ready_file:
            _atomic_write(ready_file, json.dumps(info))
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        serving = asyncio.ensure_future(server.serve_forever())
        watcher = asyncio.ensure_future(_watch_parent(stop)) if exit_with_parent else None
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await server.close()

    try:
        asyncio.run(run())
    finally:
        if log is not None:
            log.close()


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--agent",
    "agents",
    multiple=True,
    help="Catalogue key (repeatable; default: the transcript set).",
)
@click.option("--jobs", type=int, default=2, show_default=True, help="Agents run at once.")
def transcripts(out_dir: str, agents: tuple[str, ...], jobs: int) -> None:
    """Record real-SDK transcripts: run agents against fresh servers, keep each log.

    Writes OUT_DIR/<agent>.jsonl (the stand-in exchange log, exact bytes).
    """
    from heron.standin.catalog import TRANSCRIPTS, record_transcripts
    from heron.standin.errors import StandInError

    try:
        paths = record_transcripts(out_dir, agents or TRANSCRIPTS, jobs=jobs)
    except StandInError as e:
        raise click.ClickException(str(e)) from e
    for key, path in paths.items():
        click.echo(f"{key}: {path}")


async def _watch_parent(stop: asyncio.Event) -> None:
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


def _atomic_write(path: str, text: str) -> None:
    tmp = Path(path + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
