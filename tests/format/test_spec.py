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


def test_spec_function_table_equals_the_code() -> None:
    text = SPEC.read_text()
    section = text.split("Function table for `fn`", 1)[1].split("\n\n", 2)[1]
    rows = [
        [c.strip().strip("`") for c in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| uint")
    ]
    assert [(int(i), name) for i, name in rows] == list(enumerate(fr.FN_TABLE))


def test_spec_index_fields_and_columns_equal_the_code() -> None:
    from heron.format import reader

    text = SPEC.read_text()
    assert "`[" + ", ".join(fr.INDEX_CHUNK_FIELDS) + "]`" in text
    section = text.split("### 7.1 The column block", 1)[1].split("Each of columns", 1)[0]
    cols = re.findall(r"^\| (\d+) \| `(\w+)` \|", section, re.M)
    assert [int(i) for i, _ in cols] == list(range(1, reader._NCOLS + 1))
    assert cols[reader._XCOL][1] == "x"
    assert f"at least {reader._NCOLS + 1} elements" in section


def test_spec_worked_columnar_example_matches_the_writer() -> None:
    import io

    from heron.format import Writer

    from ._util import raw_chunks

    buf = io.BytesIO()
    with Writer(buf) as w:
        w.data(1000, conn=1, pid=7, dir=1, offset=0, data=b"hi", fn="SSL_read")
        w.data(1250, conn=1, pid=7, dir=1, offset=2, data=b"yo!", fn="SSL_read")
    ((head, _, _),) = raw_chunks(buf.getvalue())
    text = SPEC.read_text().split("A columnar chunk:", 1)[1]
    listing = text.split("```", 2)[1]
    section = bytes.fromhex(" ".join(line[:30] for line in listing.strip().splitlines()))
    assert head["raw_len"] == len(section) == 30 and head["codec"] == 0
    assert head["flags"] == 3 and head["min_t"] == 1000 and head["max_t"] == 1250
    assert bytes(head["frames"]).hex(" ") in text
    data = buf.getvalue()
    assert section in data
