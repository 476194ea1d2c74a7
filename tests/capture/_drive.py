"""Run several stand-in agents one after the other, under one capture.

``python -m tests.capture._drive --https URL --http URL --ca CA NAME...``
prints one JSON line per agent (name, pid, exit status, output tail) and
exits non-zero if any failed.  The capture tests run this under a single
``heron-capture -- ...`` so the BPF programs are compiled once for all
clients; each agent is then found in the file by its pid.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def command(name: str, https: str, http: str, ca: str) -> list[str]:
    """The command line of one agent."""
    py = [sys.executable, "-m"]
    if name == "node_fetch":
        return [
            "node",
            str(ROOT / "heron/standin/agents/node_fetch.mjs"),
            "--base-url",
            https,
            "--ca",
            ca,
        ]
    if name == "node_plain":  # plain HTTP from node: writev/read syscalls
        return ["node", str(ROOT / "heron/standin/agents/node_fetch.mjs"), "--base-url", http]
    if name == "ollama_plain":
        return [*py, "heron.standin.agents.ollama_plain", "--base-url", http]
    if name == "big_request_h2":
        return [*py, "heron.standin.agents.big_request", "--http2", "--base-url", https, "--ca", ca]
    if name == "threads":
        return [
            *py,
            "heron.standin.agents.threads",
            "--threads",
            "4",
            "--calls",
            "3",
            "--base-url",
            https,
            "--ca",
            ca,
        ]
    return [*py, f"heron.standin.agents.{name}", "--base-url", https, "--ca", ca]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--https", required=True)
    p.add_argument("--http", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("names", nargs="+")
    a = p.parse_args()
    bad = 0
    for name in a.names:
        proc = subprocess.Popen(
            command(name, a.https, a.http, a.ca),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        out, _ = proc.communicate(timeout=240)
        print(
            json.dumps(
                {"name": name, "pid": proc.pid, "status": proc.returncode, "out": out[-1500:]}
            ),
            flush=True,
        )
        bad += proc.returncode != 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
