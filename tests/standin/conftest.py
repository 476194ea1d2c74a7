"""One stand-in server (a subprocess) shared by the stand-in tests."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from heron.standin import StandIn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    d = tmp_path_factory.mktemp("standin")
    with StandIn(log_path=d / "log.jsonl", cert_dir=d / "certs") as s:
        yield s


@pytest.fixture(scope="session")
def client_ctx(standin: StandIn) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=standin.ca_file)


def run_agent(
    standin: StandIn,
    name: str,
    *args: str,
    env: dict[str, str] | None = None,
    plain: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m heron.standin.agents.<name>`` against the stand-in."""
    base = standin.http_url if plain else standin.https_url
    cmd = [
        sys.executable,
        "-m",
        f"heron.standin.agents.{name}",
        "--base-url",
        base,
        "--ca",
        standin.ca_file,
        *args,
    ]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO
    )
