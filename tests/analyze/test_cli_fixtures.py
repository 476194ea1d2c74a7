"""The CLI and heron.open on every real capture in tests/fixtures (CliRunner)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

import heron
from heron.analyze.schema import schema
from heron.cli import main

FIXTURES = Path(__file__).parent.parent / "fixtures"
ALL = sorted(p.stem for p in FIXTURES.glob("*.heron"))
TABLES = ("calls", "tools", "loops", "processes", "connections", "exchanges")


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def path(name: str) -> str:
    return str(FIXTURES / f"{name}.heron")


@pytest.mark.parametrize("name", ALL)
def test_summary_and_json_tables(name: str) -> None:
    cap = heron.open(path(name))
    code, out, err = run("summary", path(name))
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[0].startswith(f"{name}.heron · ") and lines[0].endswith(" s)")
    own = cap.calls.filter(pl.col("duplicate_of").is_null())  # each call once
    assert lines[1].startswith(f"{own.height} LLM call")
    for agent in set(own["agent"].to_list()):
        assert any(line.startswith(f"{agent}  (pid ") for line in lines), agent
    data = json.loads(run("summary", path(name), "--format", "json")[1])
    assert sum(a["calls"] for a in data["agents"]) == own.height
    assert sum(a["seen_again"] for a in data["agents"]) == cap.calls.height - own.height
    assert data["info"]["calls"] == cap.calls.height
    assert data["info"]["duplicate_calls"] == cap.calls.height - own.height
    for table in ("calls", "tools", "loops"):
        code, out, err = run(table, path(name), "--format", "json")
        assert code == 0, err
        rows = json.loads(out)
        assert len(rows) == getattr(cap, table).height
        assert all(list(r) == list(schema(table).names()) for r in rows)


@pytest.mark.parametrize("name", ["demo", "httpx_h2", "variant_b"])
def test_every_table_in_every_format(name: str, tmp_path: Path) -> None:
    cap = heron.open(path(name))
    for table in TABLES:
        want = cap.table(table)
        code, out, err = run(table, path(name))
        assert code == 0 and err == "", (table, err)
        assert len(out.splitlines()) == want.height + 1  # header + one line per row
        code, out, err = run(table, path(name), "--format", "csv")
        assert code == 0, err
        assert pl.read_csv(io.StringIO(out)).height == want.height
        code, out, err = run(table, path(name), "--format", "json")
        assert code == 0 and len(json.loads(out)) == want.height
        pq = tmp_path / f"{table}.parquet"
        code, _, err = run(table, path(name), "--format", "parquet", "-o", str(pq))
        assert code == 0, err
        got = pl.read_parquet(pq)
        assert got.schema == want.schema and got.height == want.height
        js = tmp_path / f"{table}.json"
        assert run(table, path(name), "--format", "json", "-o", str(js))[0] == 0
        assert len(json.loads(js.read_text())) == want.height


def test_calls_json_values_on_the_429() -> None:
    rows = json.loads(run("calls", path("variant_b"), "--format", "json")[1])
    err = rows[2]
    assert (err["status"], err["error"], err["input_tokens"]) == (429, "HTTP 429", None)
    assert err["started_at"].endswith("+00:00")
    loops = json.loads(run("loops", path("variant_b"), "--format", "json")[1])
    assert [(lp["kind"], lp["count"], lp["call_ids"]) for lp in loops] == [
        ("repeated_tool_call", 4, [0, 1, 3, 4])
    ]


def test_show_every_call_of_the_demo() -> None:
    n = heron.open(path("demo")).calls.height
    for call_id in range(n):
        code, out, err = run("show", path("demo"), str(call_id))
        assert code == 0 and err == "", err
        assert out.startswith(f"call {call_id} · heron.standin.agents.demo · ")
        assert "── request: " in out and "── response (" in out and "\nusage: " in out
    title = run("show", path("demo"), "0")[1]
    assert "auxiliary call" in title and "[system]\n    Generate a concise title" in title
    turn = run("show", path("demo"), "3")[1]
    assert "← tool result for call_" in turn and "→ tool call read_file(" in turn
    code, _, err = run("show", path("demo"), str(n))
    assert (
        code == 2 and err.startswith(f"heron: no call {n} in demo.heron") and "Traceback" not in err
    )


def test_show_the_abandoned_429() -> None:
    out = run("show", path("variant_b"), "2")[1]
    assert "error: HTTP 429" in out
    assert "closed the connection without reading the whole response" in out
    assert "usage: not reported by the provider" in out


class _Pipe(io.RawIOBase):
    """A non-seekable binary stream (like stdin from a pipe)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: Any) -> int:
        data = self._buf.read(len(b))
        b[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("name", ALL)
def test_open_binary_file_objects(name: str) -> None:
    want = heron.open(path(name)).calls.drop("capture")
    with open(path(name), "rb") as f:
        cap = heron.open(f)
        assert cap.calls.drop("capture").equals(want)
        assert cap.calls["capture"].unique().to_list() == [f"{name}.heron"]
        assert cap.exchanges.height >= cap.calls.height  # second pass over the same file
    data = Path(path(name)).read_bytes()
    piped = heron.open(io.BufferedReader(_Pipe(data)))
    assert piped.calls.drop("capture").equals(want)
    assert piped.to_arrow("tools").num_rows == heron.open(path(name)).tools.height


def test_terminal_output_uses_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal, summary and tables render as rich tables (same content)."""
    import heron.cli.tables as tables

    monkeypatch.setattr(tables, "_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: cells are not folded
    code, out, err = run("summary", path("variant_b"))
    assert code == 0, err
    assert "heron.standin.agents.variant" in out and "1 failed (HTTP 429)" in out
    assert "repeated_tool_call" in out and "─" in out  # a rich table's rules
    code, out, err = run("loops", path("variant_b"))
    assert code == 0 and "loops — variant_b.heron" in out and "read_file" in out
    code, _, err = run("calls", path("demo"), "--format", "parquet")
    assert code == 2 and "parquet is binary" in err


def test_calls_table_shows_duplicate_of_only_when_a_call_was_seen_again() -> None:
    code, out, _ = run("calls", path("proxied"))
    head = out.splitlines()[0].split()
    assert code == 0 and head[:3] == ["call_id", "conversation_id", "duplicate_of"]
    code, out, _ = run("calls", path("demo"))
    assert code == 0 and "duplicate_of" not in out.splitlines()[0]


def test_show_says_which_call_a_duplicate_is_a_view_of() -> None:
    calls = heron.open(path("proxied")).calls
    up = calls.filter(pl.col("duplicate_kind") == "upstream").row(0, named=True)
    code, out, _ = run("show", path("proxied"), str(up["call_id"]))
    assert code == 0
    assert f"another view of call {up['duplicate_of']}: the request a gateway sent upstream" in out
    code, out, _ = run("show", path("proxied"), str(up["duplicate_of"]))
    assert code == 0 and "another view" not in out
