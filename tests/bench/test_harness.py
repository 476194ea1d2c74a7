"""Unit tests of the benchmark harness pieces (no timing, no root)."""

from __future__ import annotations

import doctest
import importlib
import io
import sys
from pathlib import Path

import pytest

from bench import _common, captures, read_tools
from bench._common import Measure, Row, as_row, markdown_table
from heron.format import Reader, RecordKind, Writer


@pytest.mark.parametrize("name", ["bench._common", "bench.captures", "bench.__main__"])
def test_doctests(name: str) -> None:
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0


def test_measure_shows_median_and_spread() -> None:
    assert str(Measure([3.0, 1.0, 2.0], "s", 2)) == "2.00 s (1.00–3.00, n=3)"
    assert str(Measure([], "s")) == "–"


def test_row_status_and_cells() -> None:
    assert Row("a", ok=True).status == "pass"
    assert Row("a", ok=False).status == "miss"
    assert Row("a").status == "info"
    assert Row("a", error="skipped: no root").status == "skip"
    r = Row("a", Measure([1.0]), Measure([2.0]), 0.5, "g", error="boom")
    assert r.status == "error"
    assert r.cells() == ["a", "1.0", "2.0", "0.50x", "g", "error: boom"]


def test_table_escapes_pipes() -> None:
    t = markdown_table([Row("a|b", "x", "y")])
    assert "a\\|b" in t
    assert len(t.splitlines()) == 3


def test_as_row_accepts_mappings_and_objects() -> None:
    class R:
        scenario = "w"
        heron = "1"
        baseline = "2"
        ratio = 2
        goal = "g"
        ok = True

    assert as_row(R()).cells()[3] == "2.00x"
    assert as_row({"scenario": "m", "ok": False}).status == "miss"


def _capture(path: Path) -> None:
    with Writer(path) as w:
        w.append(RecordKind.CAPTURE_START, 1, tool="t", version="0")
        w.append(RecordKind.PROCESS, 2, pid=40, ppid=1, comm="agent")
        w.append(RecordKind.CONN_OPEN, 3, conn=1, pid=40, transport="tls")
        body = b"POST /v1/chat/completions HTTP/1.1\r\n\r\n" + b"history " * 100
        w.data(4, conn=1, pid=40, dir=0, offset=0, length=len(body), data=body)
        w.data(5, conn=1, pid=40, dir=0, offset=len(body), length=len(body) + 3, data=body + b"new")
        w.append(RecordKind.STATS, 6, lost={"ringbuf": 0})
        w.append(RecordKind.CAPTURE_STOP, 7, reason="command-exited")


def test_grow_replays_with_shifted_ids(tmp_path: Path) -> None:
    src, dest = tmp_path / "s.heron", tmp_path / "big.heron"
    _capture(src)
    plain = sum(r["len"] for r in Reader(src) if r["k"] == RecordKind.DATA)
    info = captures.grow(src, dest, plain * 3)
    assert info["copies"] == 3
    recs = list(Reader(dest))
    kinds = [r["k"] for r in recs]
    assert kinds.count(RecordKind.CAPTURE_START) == 1
    assert kinds.count(RecordKind.CAPTURE_STOP) == 1
    data = [r for r in recs if r["k"] == RecordKind.DATA]
    assert len(data) == 6
    assert len({(r["pid"], r["conn"]) for r in data}) == 3
    assert sum(r["len"] for r in data) == info["plaintext"] == plain * 3
    ts = [r["t"] for r in recs]
    assert ts == sorted(ts)
    assert data[-1]["data"].endswith(b"new")
    # The summary sees the same bytes, and the decode floor the same records.
    s = _common.capture_summary(dest)
    assert s.out_bytes == plain * 3 and s.lost_total == 0
    want = {"records": len(recs), "data_bytes": plain * 3}
    assert read_tools.iterate(dest) == want
    floor = tmp_path / "big.floor"
    assert read_tools.make_floor_file(dest, floor)["records"] == len(recs)
    assert read_tools.decode_floor(floor) == want


def test_run_measured_reports_failure_with_last_stderr_line() -> None:
    with pytest.raises(RuntimeError, match="exited 3: last words"):
        _common.run_measured(
            [
                sys.executable,
                "-c",
                "import sys; print('x\\nlast words', file=sys.stderr); sys.exit(3)",
            ]
        )


def test_fanout_runs_all_copies(tmp_path: Path) -> None:
    from bench import fanout

    marker = tmp_path / "m"
    code = fanout.main(["3", "--", sys.executable, "-c", f"open({str(marker)!r}, 'a').write('x')"])
    assert code == 0
    assert marker.read_text() == "xxx"
    assert fanout.main(["2", "--", sys.executable, "-c", "raise SystemExit(4)"]) == 1


def test_markdown_output_is_one_table() -> None:
    buf = io.StringIO()
    buf.write(markdown_table([Row("a", "1", "2", 1.0, "g", True), Row("b", error="skipped: x")]))
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("| scenario |") and len(lines) == 4


def test_phases_times_every_stage_and_can_profile_one(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import phases

    fixture = str(Path(__file__).resolve().parents[1] / "fixtures" / "demo.heron")
    phases.main([fixture, "--profile", "add_exchange", "--top", "3"])
    out = capsys.readouterr().out
    for name in ("read", "reassemble", "observe", "add_exchange", "finish", "total"):
        assert f"{name}:" in out, name
    assert "function calls" in out  # the cProfile table of the profiled phase
    n_exchanges = len(_exchanges(fixture))
    assert f"{n_exchanges} exchanges)" in out


def _exchanges(path: str) -> list[object]:
    from heron.analyze.reassembly import iter_exchanges

    return list(iter_exchanges(Reader(path)))
