"""Smoke test of the benchmark harness: ``python -m bench --quick`` runs and prints rows.

It asserts that every scenario ran (or, without root/BPF, was skipped with a
reason) and produced table rows -- never that a timing goal was met: timing
belongs in ``bench/RESULTS.md``, not in a test.  With ``HERON_REQUIRE_BPF=1``
(CI) the capture scenarios must run, not skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_KEYS = ("1", "2", "3", "4", "5", "6", "F")


@pytest.fixture(scope="module")
def quick_run() -> tuple[subprocess.CompletedProcess[str], str]:
    out = ROOT / "bench" / "out" / "RESULTS-quick.md"
    if out.exists():
        out.unlink()
    p = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return p, out.read_text() if out.exists() else ""


def table_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[1:]]


def test_quick_bench_runs_and_prints_one_table(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    p, results = quick_run
    assert p.returncode == 0, p.stderr[-3000:]
    rows = table_rows(p.stdout)
    assert rows, p.stdout
    assert all(len(r) == 6 for r in rows), rows
    for key in SCENARIO_KEYS:
        assert any(r[0].startswith(f"{key}.") for r in rows), f"no row for scenario {key}"
    errors = [r for r in rows if r[5].startswith("error")]
    assert not errors, errors
    # The same table goes to the results file, with the machine and the date.
    assert "## Machine" in results and "kernel:" in results and "CPU:" in results
    assert table_rows(results) == rows


def test_quick_bench_skips_capture_only_with_a_reason(
    quick_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    p, _ = quick_run
    rows = table_rows(p.stdout)
    skipped = [r for r in rows if r[5].startswith("skip")]
    for r in skipped:
        assert r[5].startswith("skip: skipped: "), r
    if os.environ.get("HERON_REQUIRE_BPF") == "1":
        capture = [r for r in skipped if r[0][:2] in ("1.", "2.", "3.", "4.", "5.", "6.")]
        assert not capture, capture
    measured = [r for r in rows if r[5].split()[0] in ("pass", "miss", "info")]
    for r in measured:
        assert r[1] != "–" or r[2] != "–", r


def test_unknown_scenario_is_a_usage_error() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "99"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "unknown scenario '99'" in p.stderr
