"""``heron info`` and ``heron verify`` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from heron.cli import main
from heron.format import RecordKind, Writer

from ._util import build_file, chunk_extents, rewrite_header


def _capture(path: Path) -> Path:
    with Writer(path, options={"body_cap": 262144}) as w:
        w.append(RecordKind.PROCESS, 1_000, pid=4, comm="agent")
        w.data(2_000, conn=1, pid=4, dir=0, offset=0, length=5, data=b"hello")
        w.append(RecordKind.STATS, 3_000, lost={"ringbuf": 2, "perf": 1}, events=10)
    return path


def test_info_table_and_json(tmp_path: Path) -> None:
    p = _capture(tmp_path / "a.heron")
    r = CliRunner().invoke(main, ["info", str(p)])
    assert r.exit_code == 0, r.output
    assert "records         3" in r.output and "DATA" in r.output
    assert "lost events     3 (perf=1, ringbuf=2)" in r.output
    assert "closed cleanly  yes" in r.output
    r = CliRunner().invoke(main, ["info", str(p), "--format", "json"])
    data = json.loads(r.output)
    assert data["kinds"] == {"PROCESS": 1, "DATA": 1, "STATS": 1}
    assert data["first_t"] == 1000 and data["last_t"] == 3000
    assert data["header"]["options"] == {"body_cap": 262144}
    assert data["lost_events"] == {"ringbuf": 2, "perf": 1} and data["closed"] is True
    assert data["payload_bytes"] == 5 and data["file_bytes"] == p.stat().st_size
    r = CliRunner().invoke(main, ["info", str(p)])
    assert f"size            {p.stat().st_size} bytes; DATA payload 5 bytes (" in r.output


def test_info_on_a_truncated_file_scans_and_reports(tmp_path: Path) -> None:
    data, expected = build_file(chunks=3)
    ext = chunk_extents(data)
    p = tmp_path / "cut.heron"
    p.write_bytes(data[: ext[1][0] + 30])
    r = CliRunner().invoke(main, ["info", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["closed"] is False and info["chunks"] == 1
    first_chunk = [x for x in expected if x["s"] < ext[0][3] and x["k"] == 8]
    assert info["payload_bytes"] == sum(len(x["data"]) for x in first_chunk)
    assert info["file_bytes"] == ext[1][0] + 30
    assert any("truncated" in x for x in info["losses"])


def test_verify_intact(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["verify", str(_capture(tmp_path / "a.heron"))])
    assert r.exit_code == 0 and r.output.startswith("intact: 3 records in 1 chunks")


def test_verify_damaged_says_what_and_where(tmp_path: Path) -> None:
    data, _ = build_file(chunks=3, per_chunk=2)
    off, end, first, n = chunk_extents(data)[1]
    m = bytearray(data)
    m[off + 50] ^= 0x40
    p = tmp_path / "bad.heron"
    p.write_bytes(bytes(m))
    r = CliRunner().invoke(main, ["verify", str(p)])
    assert r.exit_code == 1
    assert f"corrupt-block: bytes {off}..{end}" in r.output and "chunk #1" in r.output
    assert f"records seq {first}..{first + n - 1} lost ({n})" in r.output
    assert CliRunner().invoke(main, ["verify", "-q", str(p)]).output == ""


def test_verify_unreadable_one_line_exit_2(tmp_path: Path) -> None:
    cases = {
        "empty": b"",
        "text": b"hello world\n",
        "crlf": b"\x89HRN\r\r\n\x1a\n...",
        "future": rewrite_header(build_file()[0], incompat=1 << 5 | 1),
    }
    for name, blob in cases.items():
        p = tmp_path / name
        p.write_bytes(blob)
        r = CliRunner().invoke(main, ["verify", str(p)])
        assert r.exit_code == 2, name
        assert r.output.count("\n") == 1 and r.output.startswith("unreadable: "), r.output
        assert "Traceback" not in r.output
    r = CliRunner().invoke(main, ["verify", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "cannot open" in r.output
    r = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["info", str(tmp_path / "text")])
    assert r.exit_code == 2 and "not a .heron file" in r.output


def test_verify_reads_stdin(tmp_path: Path) -> None:
    data = _capture(tmp_path / "a.heron").read_bytes()
    r = CliRunner().invoke(main, ["verify", "-"], input=data)
    assert r.exit_code == 0, r.output


def test_help_has_examples() -> None:
    for cmd in ("info", "verify"):
        r = CliRunner().invoke(main, [cmd, "--help"])
        assert r.exit_code == 0 and "Examples:" in r.output
