"""``make demo``: capture the bundled demo agent, then analyse the capture.

1. Start the stand-in LLM provider (real TLS on loopback, self-signed CA),
   as the invoking user.
2. Run ``heron-capture -o demo.heron -- python -m heron.standin.agents.demo``
   as root (through sudo when needed); the agent itself runs as you.
3. Print ``heron info``, then ``heron summary demo.heron`` (unprivileged).

Examples
--------
    .venv/bin/python scripts/demo.py            # writes ./demo.heron
    .venv/bin/python scripts/demo.py -o /tmp/x.heron
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def main() -> int:
    """Run the demo; returns the process exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default=str(ROOT / "demo.heron"))
    args = ap.parse_args()

    from heron.standin import StandIn

    out = Path(args.output)
    sudo: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            print("demo: capture needs root and sudo is not installed", file=sys.stderr)
            return 2
        sudo = ["sudo", "--preserve-env=PATH"]
    print("demo: starting the stand-in LLM provider on loopback (TLS, HTTP/1.1 + HTTP/2)")
    with StandIn(latency_ms=20, ttft_ms=40) as s:
        agent = [
            sys.executable, "-m", "heron.standin.agents.demo",
            "--base-url", s.https_url, "--ca", str(s.ca_file),
        ]
        cmd = [*sudo, _bin("heron-capture"), "-o", str(out), "--force", "--", *agent]
        print("demo: $", " ".join(cmd[len(sudo):]))
        rc = subprocess.call(cmd, cwd=ROOT)
        if rc != 0:
            print(f"demo: capture or agent failed (exit {rc})", file=sys.stderr)
            return rc
    print()
    subprocess.call([_bin("heron"), "info", str(out)])
    print()
    return subprocess.call([_bin("heron"), "summary", str(out)])


if __name__ == "__main__":
    sys.exit(main())
