"""Incremental request parsing (heron.analyze.providers.history) equals a full parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heron.analyze.exchange import Exchange
from heron.analyze.providers import parse_exchange
from heron.analyze.providers.base import history_chains
from heron.analyze.providers.history import RequestHistory
from tests.analyze.heronfile import growing_conversation
from tests.analyze.transcripts import load


def same_parse(exchanges: list[Exchange]) -> None:
    h = RequestHistory()
    for ex in exchanges:
        full, inc = parse_exchange(ex), parse_exchange(ex, history=h)
        assert (full is None) == (inc is None)
        if full is None or inc is None:
            continue
        assert [m.key() for m in inc.messages] == [m.key() for m in full.messages]
        assert [m.digests() for m in inc.messages] == [m.digests() for m in full.messages]
        memo_chains = history_chains(inc.messages, reused=inc.reused, memo=inc.memo)
        assert memo_chains == history_chains(full.messages)
        assert (inc.model, inc.n_tools_offered, inc.new_from, inc.parse_error) == (
            full.model,
            full.n_tools_offered,
            full.new_from,
            full.parse_error,
        )


def test_growing_conversation_reuses_history() -> None:
    exs = growing_conversation(7, 12, 300)
    same_parse(exs)
    h = RequestHistory()
    views = [h.request((7, "chat"), ex.request_body, "messages") for ex in exs]
    assert [v.reused for v in views] == [0] + [2 * i for i in range(1, 12)]
    assert h.parsed_items == 2 + 2 * 11  # each request decodes only what it adds


@pytest.mark.parametrize(
    "name", ["openai_sync", "anthropic_stream", "gemini", "ollama_plain", "openai_async"]
)
def test_real_transcripts(name: str) -> None:
    same_parse(load(name))


def _body(msgs: list[Any], *, first: bool, indent: int | None) -> bytes:
    obj: dict[str, Any] = {"messages": msgs, "model": "m"} if first else {"model": "m"}
    if not first:
        obj["messages"] = msgs
        obj["tools"] = [{"name": "t"}]
    return json.dumps(obj, indent=indent).encode()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.text(max_size=6), min_size=0, max_size=5), min_size=1, max_size=6),
    st.booleans(),
    st.sampled_from([None, 1]),
)
def test_any_sequence_matches_json_loads(
    histories: list[list[str]], first: bool, indent: int | None
) -> None:
    """Growing, shrinking or edited histories, any layout: always what json.loads says."""
    h = RequestHistory()
    for texts in histories:
        body = _body([{"role": "user", "content": t} for t in texts], first=first, indent=indent)
        assert h.request("s", body, "messages").body == json.loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8",
        b'{"messages": "not a list"}',
        b'{"messages": [1, 2], "messages": [3]}',
        b'{"model": "m"}',
        b'{"messages": [1, 2}',
        b"[1, 2]",
        b'{"messages": [1]} trailing',
    ],
)
def test_odd_bodies_fall_back(body: bytes) -> None:
    h = RequestHistory()
    _ = h.request("s", b'{"messages": [1]}', "messages")
    try:
        want = json.loads(body)
    except ValueError:
        want = None
    assert h.request("s", body, "messages").body == want


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "sys A", "sys B"]),
            st.integers(min_value=0, max_value=5),
            st.sampled_from(["first", "last"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_system_prompt_changes_never_reuse_wrong_links(
    steps: list[tuple[str | None, int, str]],
) -> None:
    """Anthropic bodies whose system prompt appears, changes or goes between turns."""
    exchanges = []
    for i, (system, turns, order) in enumerate(steps):
        msgs = [{"role": "user", "content": "task"}]
        for t in range(turns):
            msgs += [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": f"t{t}", "name": "ls", "input": {}}],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": f"t{t}", "content": "ok"}],
                },
            ]
        body: dict[str, Any] = {"messages": msgs}
        if system is not None:
            body["system"] = system
        body["model"] = "claude"
        if order == "first":
            body = {"model": "claude", **{k: v for k, v in body.items() if k != "model"}}
        exchanges.append(
            Exchange(
                i,
                1,
                5,
                "1.1",
                method="POST",
                path="/v1/messages",
                request_body=json.dumps(body).encode(),
            )
        )
    same_parse(exchanges)


def test_interleaved_conversations_of_one_process_each_reuse_their_own() -> None:
    a, b = growing_conversation(7, 6, 200), growing_conversation(7, 6, 200)
    for x in b:  # same process, a different task
        x.request_body = x.request_body.replace(b"Task 7", b"Task 8")
    mixed = [x for pair in zip(a, b, strict=True) for x in pair]
    same_parse(mixed)
    h = RequestHistory()
    views = [h.request((7, "chat"), x.request_body, "messages") for x in mixed]
    # the second thread shares only the system prompt with the first at first
    assert [v.reused for v in views] == [0, 1] + [r for i in range(1, 6) for r in (2 * i, 2 * i)]


def _msgs(texts: list[str]) -> list[dict[str, Any]]:
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)
    ]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.text(max_size=8),
                st.integers(min_value=-(2**70), max_value=2**70),
                st.floats(allow_nan=True, allow_infinity=True),
            ),
            max_size=4,
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([None, 2]),
    st.booleans(),
)
def test_appended_items_decode_exactly_as_json_loads(
    turns: list[list[Any]], indent: int | None, ascii_only: bool
) -> None:
    """The append fast path (one orjson call for the new items) gives json.loads's
    values: integers beyond 64 bits stay ints, NaN/Infinity and non-ASCII text
    are decoded, whatever the layout."""
    h = RequestHistory()
    history: list[Any] = []
    for new in turns:
        history = history + [{"role": "user", "content": v} for v in new]
        body = json.dumps(
            {"messages": history, "model": "m"}, indent=indent, ensure_ascii=ascii_only
        ).encode()
        got = h.request("s", body, "messages").body
        assert repr(got) == repr(json.loads(body))  # repr: 1 vs 1.0, nan


def test_append_fast_path_reuses_and_counts() -> None:
    h = RequestHistory()
    texts = ["a", "b", "c", "d", "e"]
    for i in range(1, 6):
        body = json.dumps({"messages": _msgs(texts[:i]), "stream": False}).encode()
        v = h.request("s", body, "messages")
        assert v.reused == i - 1
    assert h.parsed_items == 5 and h.reused_items == 0 + 1 + 2 + 3 + 4


@pytest.mark.parametrize(
    "tail",
    [
        b', {"role": "user", "content": "x"},]}',  # trailing comma
        b' {"role": "user", "content": "x"}]}',  # no comma
        b', {"role": "user", "content": "x"}]} junk',  # not one object
        b', {"role": "user", "content": NaN}]}',  # json.loads accepts NaN
        b', {"role": "user", "content": 123456789012345678901234567890}]}',
        b', {"role": "user", "content": "\\ud800"}]}',  # a lone surrogate
        b', {"role": "user", "content": "x"}], "messages": []}',  # duplicate key
    ],
)
def test_appended_odd_bytes_match_json_loads(tail: bytes) -> None:
    h = RequestHistory()
    first = b'{"messages": [{"role": "user", "content": "hi"}]}'
    _ = h.request("s", first, "messages")
    body = first[: first.rindex(b"]")] + tail
    try:
        want = json.loads(body)
    except ValueError:
        want = None
    assert repr(h.request("s", body, "messages").body) == repr(want)


def test_fork_with_non_ascii_history_reuses_up_to_the_fork() -> None:
    """A request that changes an earlier item continues from the last common item
    (byte offsets, multi-byte UTF-8 before them)."""
    h = RequestHistory()
    base = ["héllo ✓", "wörld", "ünïcode", "more"]
    for i in range(1, 5):
        _ = h.request("s", json.dumps({"messages": _msgs(base[:i])}).encode(), "messages")
    forked = [*base[:2], "changed ✗", "x"]
    body = json.dumps({"messages": _msgs(forked)}).encode()
    v = h.request("s", body, "messages")
    assert v.body == json.loads(body)
    assert v.reused == 2
    # the original thread still continues from its own last request
    body = json.dumps({"messages": _msgs([*base, "next"])}).encode()
    v = h.request("s", body, "messages")
    assert v.body == json.loads(body) and v.reused == 4
