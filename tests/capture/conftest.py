"""Real-capture test plumbing: BPF availability, the stand-in, heron-capture runs.

Real tests skip (with the reason) when eBPF capture cannot run here, and
FAIL instead when ``HERON_REQUIRE_BPF=1`` (CI), so a broken host can never
pass as green.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heron.errors import HeronError

ROOT = Path(__file__).resolve().parents[2]


def bpf_unavailable() -> str | None:
    """Why real eBPF capture cannot run here (None when it can)."""
    if os.geteuid() != 0:
        return "real eBPF capture needs root (run the suite with sudo)"
    try:
        from heron.capture.program import import_bcc

        import_bcc()
    except HeronError as e:
        return str(e)
    if not any(
        os.path.exists(p)
        for p in (
            "/sys/kernel/tracing/events/syscalls",
            "/sys/kernel/debug/tracing/events/syscalls",
        )
    ):
        return "tracefs with syscall tracepoints is not mounted"
    return None


@pytest.fixture(scope="session")
def bpf() -> None:
    """Skip, or fail under HERON_REQUIRE_BPF=1, when real capture cannot run."""
    reason = bpf_unavailable()
    if reason:
        if os.environ.get("HERON_REQUIRE_BPF") == "1":
            pytest.fail(f"HERON_REQUIRE_BPF=1 but real capture cannot run: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def standin(bpf: None) -> Iterator[Any]:
    """One stand-in provider for the whole session (TLS + plain port)."""
    from heron.standin import StandIn

    certs = Path(tempfile.mkdtemp(prefix="heron-test-certs-"))
    certs.chmod(0o755)  # agents may run as an unprivileged user
    with StandIn(latency_ms=0, plain_port=free_port(), cert_dir=certs) as s:
        for f in certs.iterdir():
            f.chmod(0o644)
        yield s


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for heron-capture, without sudo's variables."""
    env = {k: v for k, v in os.environ.items() if k not in ("SUDO_UID", "SUDO_GID", "SUDO_USER")}
    env["PYTHONPATH"] = str(ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env.update(extra)
    return env


def capture_cmd(out: Path | str, cmd: list[str], *opts: str) -> list[str]:
    """The heron-capture command line for ``-- cmd``."""
    return [sys.executable, "-m", "heron.capture.cli", "-o", str(out), *opts, "--", *cmd]


def run_capture(
    out: Path | str,
    cmd: list[str],
    *opts: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``heron-capture -o out [opts] -- cmd`` to completion."""
    return subprocess.run(
        capture_cmd(out, cmd, *opts),
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def read_records(path: Path | str) -> tuple[list[dict[str, Any]], Any]:
    """Every record of a .heron file and the reader's report."""
    from heron.format import Reader

    r = Reader(str(path))
    recs = list(r)
    return recs, r.report
