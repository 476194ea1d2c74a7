"""NDJSON parser: all at once, one byte at a time, and with trailing bytes."""

from __future__ import annotations

import pytest

from heron.analyze.reassembly.ndjson import NDJSONLine, NDJSONParser

BODY = b'{"message":{"content":"he"},"done":false}\n\n{"message":{"content":"llo"},"done":false}\r\n{"done":true,"eval_count":5}\n'


def run(chunks: list[bytes]) -> tuple[list[NDJSONLine], NDJSONParser]:
    p = NDJSONParser()
    out: list[NDJSONLine] = []
    for c in chunks:
        out += p.feed(c)
    return out, p


@pytest.mark.parametrize("how", ["all", "bytes"])
def test_lines_with_offsets(how: str) -> None:
    chunks = [BODY] if how == "all" else [BODY[i : i + 1] for i in range(len(BODY))]
    lines, p = run(chunks)
    assert [x.value["done"] for x in lines] == [False, False, True]
    assert lines[2].value["eval_count"] == 5
    assert lines[0].start == 0 and lines[0].end == BODY.index(b"\n") + 1
    assert lines[-1].end == len(BODY)
    assert p.flush() == []


def test_trailing_partial_line_is_held_then_flushed() -> None:
    lines, p = run([BODY + b'{"done": tr'])
    assert len(lines) == 3
    assert p.feed(b"ue}") == []
    (last,) = p.flush()
    assert last.value == {"done": True} and not last.terminated
    assert (last.start, last.end) == (len(BODY), len(BODY) + 14)


def test_bad_lines_are_reported_not_raised() -> None:
    lines, p = run([b'{"a":1}\nnot json\n{"b":2}\n', b"\xff\xfe\n"])
    assert [x.value for x in lines] == [{"a": 1}, None, {"b": 2}, None]
    assert lines[1].error is not None and "offset 8" in lines[1].error
    assert p.errors == 2
    p.feed(b'{"cut": ')
    (cut,) = p.flush()
    assert cut.value is None and cut.error is not None and cut.error.startswith("partial last line")
