"""SSE parser: every case fed all at once, one byte at a time, and with more after it."""

from __future__ import annotations

import pytest

from heron.analyze.reassembly.sse import SSEEvent, SSEParser


def feed_all(chunks: list[bytes]) -> tuple[list[SSEEvent], SSEParser]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for c in chunks:
        out += p.feed(c)
    return out, p


def ways(body: bytes) -> list[list[bytes]]:
    return [[body], [body[i : i + 1] for i in range(len(body))], [body[:5], body[5:]]]


ANTHROPIC = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start"}\r\n'
    b"\r\n"
    b": ping comment\r\n"
    b"event: content_block_delta\r\n"
    b'data: {"type":"content_block_delta",\r\n'
    b'data: "delta":{"text":"hi"}}\r\n'
    b"id: 7\r\n"
    b"retry: 1500\r\n"
    b"\r\n"
)


@pytest.mark.parametrize("way", range(3))
def test_events_names_multiline_comments_ids(way: int) -> None:
    evs, p = feed_all(ways(ANTHROPIC)[way])
    assert [(e.event, e.data, e.id, e.retry) for e in evs] == [
        ("message_start", '{"type":"message_start"}', None, None),
        (
            "content_block_delta",
            '{"type":"content_block_delta",\n"delta":{"text":"hi"}}',
            "7",
            1500,
        ),
    ]
    assert p.comments == 1
    # offsets: first event starts at 0 and ends after its blank line
    first_end = ANTHROPIC.index(b"\r\n\r\n") + 4
    assert (evs[0].start, evs[0].end) == (0, first_end)
    # the second event starts at its first field line (after the comment)
    assert evs[1].start == ANTHROPIC.index(b"event: content_block_delta")
    assert evs[1].end == len(ANTHROPIC)


@pytest.mark.parametrize("way", range(3))
def test_trailing_unrelated_bytes_are_not_an_event_until_terminated(way: int) -> None:
    body = b"data: one\n\ndata: tw"
    evs, p = feed_all(ways(body)[way])
    assert [e.data for e in evs] == ["one"]
    more = p.feed(b"o\n\n")
    assert [(e.data, e.start, e.end) for e in more] == [("two", 11, len(body) + 3)]


@pytest.mark.parametrize("sep", [b"\n", b"\r", b"\r\n"])
def test_line_endings_and_cr_split_across_feeds(sep: bytes) -> None:
    body = b"data: a" + sep + sep + b"data: b" + sep + sep
    for chunks in ways(body):
        evs, p = feed_all(chunks)
        # A final bare CR may still become CRLF: it is only settled at flush.
        evs += p.flush()
        assert [e.data for e in evs] == ["a", "b"]
        assert evs[1].end == len(body) and evs[1].terminated


def test_bom_no_space_after_colon_unknown_fields_and_empty_data() -> None:
    body = b"\xef\xbb\xbfdata:x\nfoo: bar\ndata\n\nevent: done\n\n"
    for chunks in ways(body):
        evs, _ = feed_all(chunks)
        assert [(e.event, e.data) for e in evs] == [(None, "x\n"), ("done", "")]
        assert evs[0].start == 3  # after the BOM


def test_id_with_nul_is_ignored_and_last_id_persists() -> None:
    evs, _ = feed_all([b"id: 1\ndata: a\n\nid: x\0y\ndata: b\n\ndata: c\n\n"])
    assert [e.id for e in evs] == ["1", "1", "1"]


def test_flush_returns_unterminated_event() -> None:
    p = SSEParser()
    assert p.feed(b"data: done") == []
    (ev,) = p.flush()
    assert (ev.data, ev.terminated, ev.end) == ("done", False, 10)
    assert p.flush() == []


def test_openai_done_marker() -> None:
    body = b'data: {"choices":[]}\n\ndata: [DONE]\n\n'
    for chunks in ways(body):
        evs, _ = feed_all(chunks)
        assert [e.data for e in evs] == ['{"choices":[]}', "[DONE]"]
