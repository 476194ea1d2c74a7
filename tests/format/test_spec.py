"""format-spec.md mirrors the code: record table, magic, sizes."""

from __future__ import annotations

import re
from pathlib import Path

from heron.format import COMMON_FIELDS, RECORD_FIELDS, RecordKind
from heron.format import _framing as fr

SPEC = Path(__file__).resolve().parents[2] / "format-spec.md"


def _tables() -> dict[str, list[tuple[str, str, bool, str, str]]]:
    text = SPEC.read_text()
    section = text.split("## 8. Record kinds", 1)[1].split("\n## 9.", 1)[0]
    out: dict[str, list[tuple[str, str, bool, str, str]]] = {}
    current = None
    for line in section.splitlines():
        m = re.match(r"#### (?:(\d+) )?(.+)$", line)
        if m:
            current = "COMMON" if m.group(1) is None else f"{m.group(1)} {m.group(2)}"
            out[current] = []
            continue
        if current and line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            name, type_, req, unit, doc = cells
            out[current].append((name.strip("`"), type_, req == "yes", unit, doc))
    return out


def _code(fields: tuple) -> list[tuple[str, str, bool, str, str]]:  # type: ignore[type-arg]
    return [(f.name, f.type, f.required, f.unit, f.doc) for f in fields]


def test_spec_record_table_equals_record_fields() -> None:
    tables = _tables()
    expected = {"COMMON": _code(COMMON_FIELDS)}
    for k in RecordKind:
        expected[f"{int(k)} {k.name}"] = _code(RECORD_FIELDS[k])
    assert tables == expected


def test_spec_states_the_constants_the_code_uses() -> None:
    text = SPEC.read_text()
    assert fr.MAGIC.hex(" ").upper() in text
    assert fr.SYNC.hex(" ").upper() in text.upper()
    assert "| 40 | .. | body |" in text and fr.CHUNK_HEADER.size == 40
    assert fr.FILE_HEADER.size == 36 and "| 36 | .. | msgpack map of metadata |" in text
    assert fr.FOOTER.size == 24 and fr.TAIL_SIZE == 52 and "last 52 bytes" in text
