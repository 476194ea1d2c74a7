"""The committed edge-case files in tests/fixtures/format read as expected.json says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heron.format import verify

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "format"
EXPECTED: dict[str, dict] = json.loads((DIR / "expected.json").read_text())


def test_every_fixture_has_an_expectation() -> None:
    assert {p.name for p in DIR.glob("*.heron")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name: str) -> None:
    exp = EXPECTED[name]
    v = verify(DIR / name)
    assert v.status == exp["status"], v.lines()
    if v.status == "unreadable":
        assert exp.get("reason", "") in v.reason
        return
    rep = v.report
    assert rep is not None
    assert rep.records == exp["records"]
    assert sorted({x.kind for x in rep.losses}) == sorted(exp["losses"])
    if "missing" in exp:
        assert [list(r) for r in rep.missing_seqs] == exp["missing"]
    if "closed" in exp:
        assert rep.closed is exp["closed"]
