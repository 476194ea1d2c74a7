"""Every agent runs green against the stand-in, with real clients and real TLS."""

from __future__ import annotations

from heron.standin import StandIn
from tests.standin.conftest import run_agent


def _ok(proc, name: str) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, f"{name} failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{name}: ok "), last
    return last


def test_openai_sync(standin: StandIn) -> None:
    before = len(standin.entries())
    line = _ok(run_agent(standin, "openai_sync"), "openai_sync")
    assert "calls=6 tool_calls=2" in line
    got = standin.wait_for_entries(before + 6)[before:]
    assert [e.path for e in got] == ["/v1/chat/completions"] * 5 + ["/v1/embeddings"]
    assert all(e.protocol == "1.1" and e.tls and e.status == 200 for e in got)
    # The tool loop's final request carries both tool results back.
    msgs = got[4].request_json()["messages"]
    assert [m["role"] for m in msgs].count("tool") == 2
