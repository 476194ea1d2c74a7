"""``heron diff`` command plumbing: formats, exit codes, one-line errors.

Runs are hand-built here (``heron.analyze.capture.open`` is swapped for a
lookup of named runs); the fixture-based tests in ``test_fixtures.py`` drive
the same command on real captures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import heron.analyze.capture
from heron.analyze.diff import CaptureFrames
from heron.cli import main
from tests.diff.synth import variant_a, variant_b


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    caps = {"a.heron": variant_a(), "b.heron": variant_b()}
    paths = {}
    for name in caps:
        (tmp_path / name).write_bytes(b"")
        paths[name] = str(tmp_path / name)

    def fake_open(src: object, **_: object) -> CaptureFrames:
        return caps[Path(str(src)).name]

    monkeypatch.setattr(heron.analyze.capture, "open", fake_open)
    return paths


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["diff", *args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def test_markdown_and_gate_exit_1(runs: dict[str, str]) -> None:
    code, out, err = invoke(
        runs["a.heron"],
        runs["b.heron"],
        "--format",
        "markdown",
        "--fail-on",
        "loops>0",
        "--fail-on",
        "calls>+5",
    )
    assert code == 1
    assert out.startswith("### Heron diff: ❌ 1 of 2 gates failed")
    assert "gate failed: loops>0 matched: loops 0 -> 1 (+1), limit 0" in err


def test_no_gate_matched_exit_0(runs: dict[str, str]) -> None:
    code, out, _ = invoke(
        runs["a.heron"], runs["b.heron"], "--format", "markdown", "--fail-on", "calls>+5"
    )
    assert code == 0
    assert "All 1 gate passed" in out


def test_json(runs: dict[str, str]) -> None:
    code, out, _ = invoke(
        runs["a.heron"], runs["b.heron"], "--format", "json", "--fail-on", "new_tools"
    )
    assert code == 1
    d = json.loads(out)
    assert d["schema"] == "heron.diff/1" and d["gates"][0]["matched"] is True


def test_table_default(runs: dict[str, str]) -> None:
    code, out, _ = invoke(runs["a.heron"], runs["a.heron"])
    assert code == 0
    assert "No change in agent behaviour" in out and "p95_latency_ms" in out


def test_output_file(runs: dict[str, str], tmp_path: Path) -> None:
    dest = tmp_path / "report.md"
    code, out, _ = invoke(
        runs["a.heron"],
        runs["b.heron"],
        "--format",
        "markdown",
        "-o",
        str(dest),
        "--fail-on",
        "errors>0",
    )
    assert code == 1 and out == ""
    assert dest.read_text().startswith("### Heron diff: ❌")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "calls>>5"], "invalid gate 'calls>>5' at column 7"),
        (["--fail-on", "call>5"], "did you mean 'calls'?"),
        (["--agent", "nobody"], "expected --agent to name an agent of either run"),
    ],
)
def test_usage_errors_exit_2_in_one_line(
    runs: dict[str, str], args: list[str], message: str
) -> None:
    code, out, err = invoke(runs["a.heron"], runs["b.heron"], *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("heron diff: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_missing_and_bogus_files_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a capture\n" * 20)
    for path in (tmp_path / "missing.heron", bogus):
        code, _, err = invoke(str(path), str(path))
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("heron diff: error: "), err
        assert str(path) in lines[0] or path.name in lines[0]


def test_help_has_examples() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for s in ("--fail-on", "output_tokens>+20%", "tool:delete_file>0", "Examples:", "--agent"):
        assert s in out
