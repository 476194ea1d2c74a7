"""The table commands through click's CliRunner: exit codes, formats, errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from heron.cli import main
from tests.analyze.heronfile import Proc, write_capture
from tests.analyze.test_capture import looping_agent
from tests.analyze.transcripts import load


@pytest.fixture(scope="module")
def cap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("cli") / "run.heron"
    write_capture(
        p,
        [
            (Proc(100), load("openai_stream_tools")),
            (Proc(400), looping_agent(3)),
            (Proc(300, cmdline=["python3", "retry.py"]), load("openai_429")),
        ],
    )
    return p


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_calls_json_is_array_of_objects_keyed_by_column(cap: Path) -> None:
    code, out, err = run("calls", str(cap), "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 10
    assert rows[0]["call_id"] == 0 and rows[0]["model"] == "gpt-4o-mini"
    assert rows[0]["started_at"].startswith("2025-01-01T00:00:01")
    assert {r["status"] for r in rows} == {200, 429}


def test_every_table_in_every_format(cap: Path, tmp_path: Path) -> None:
    for name in ("calls", "tools", "loops", "processes", "connections", "exchanges"):
        code, out, err = run(name, str(cap))
        assert code == 0, (name, err)
        assert out.strip(), name
        code, out, _ = run(name, str(cap), "--format", "csv")
        assert code == 0 and out.splitlines()[0].split(",")[0]
        pq = tmp_path / f"{name}.parquet"
        code, _, err = run(name, str(cap), "--format", "parquet", "-o", str(pq))
        assert code == 0, err
        assert pl.read_parquet(pq).height >= 0
    tools = json.loads(run("tools", str(cap), "--format", "json")[1])
    assert [t["name"] for t in tools][:2] == ["list_files", "read_file"]
    loops = json.loads(run("loops", str(cap), "--format", "json")[1])
    assert [(lp["kind"], lp["count"]) for lp in loops] == [("repeated_tool_call", 3)]


def test_summary_plain_text(cap: Path) -> None:
    code, out, err = run("summary", str(cap))
    assert code == 0, err
    assert "\nagent.py  (pid 100, 400)" in out and "\nretry.py  (pid 300)" in out
    assert "read_file ×4" in out  # 1 from the stream transcript + 3 from the loop
    assert "repeated_tool_call read_file(" in out
    assert "1 failed (HTTP 429)" in out
    data = json.loads(run("summary", str(cap), "--format", "json")[1])
    agents = {a["agent"]: a for a in data["agents"]}
    assert agents["retry.py"]["errors"] == 1
    assert agents["agent.py"]["input_tokens"] == 176 + 249 + 328 + 10 + 11 + 12


def test_show(cap: Path) -> None:
    code, out, err = run("show", str(cap), "2")
    assert code == 0, err
    assert "[system]" in out and "[tool]" in out
    assert "usage: input 328, output 22" in out
    code, _, err = run("show", str(cap), "99")
    assert code == 2 and "no call 99" in err and "Traceback" not in err


def test_user_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.heron"
    junk.write_text("not a capture at all\n" * 5)
    code, _, err = run("calls", str(junk))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = run("summary", str(tmp_path / "missing.heron"))
    assert code == 2 and "no such file" in err


def test_damaged_file_warns_and_still_prints(cap: Path, tmp_path: Path) -> None:
    data = cap.read_bytes()
    cut = tmp_path / "cut.heron"
    cut.write_bytes(data[: len(data) * 3 // 4])
    code, out, err = run("calls", str(cut), "--format", "json")
    assert code == 0
    assert 0 < len(json.loads(out)) < 10
    assert "warning" in err and "not closed cleanly" in err


def test_console_command_exits_fast_with_mains_codes_and_output(cap: Path, tmp_path: Path) -> None:
    """The installed ``heron`` (``heron.cli:run``) ends with os._exit: same output, same codes."""
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "heron.cli", *args], capture_output=True, text=True, timeout=120
        )

    r = cli("calls", str(cap), "--format", "json")
    assert r.returncode == 0 and r.stderr == ""
    assert json.loads(r.stdout) == json.loads(run("calls", str(cap), "--format", "json")[1])
    out = tmp_path / "calls.csv"  # a file written by -o is complete when the process ends
    assert cli("calls", str(cap), "--format", "csv", "-o", str(out)).returncode == 0
    assert pl.read_csv(out).height == len(json.loads(r.stdout))
    junk = tmp_path / "junk.heron"
    junk.write_text("not a capture at all\n")
    r = cli("calls", str(junk))
    assert r.returncode == 2 and "not a .heron file" in r.stderr and "Traceback" not in r.stderr
    r = cli("no-such-command")
    assert r.returncode == 2 and "No such command" in r.stderr
