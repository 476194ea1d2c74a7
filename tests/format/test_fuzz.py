"""Hostile input: random bytes and random mutations never crash or hang a reader."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heron.errors import HeronError
from heron.format import Reader
from heron.format import _framing as fr

from ._util import build_file, consume

_consume = consume

_DATA, _EXPECTED = build_file(chunks=3, per_chunk=2, streams=True)
_BY_SEQ = {r["s"]: r for r in _EXPECTED}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _consume(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_after_magic(data: bytes) -> None:
    _consume(fr.MAGIC + data)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "insert", "delete", "flip"]),
            st.integers(0, len(_DATA) - 1),
            st.binary(min_size=1, max_size=32),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_random_mutations_of_a_real_file(muts: list[tuple[str, int, bytes]]) -> None:
    m = bytearray(_DATA)
    for op, pos, blob in muts:
        pos = min(pos, len(m))
        if op == "set":
            m[pos : pos + len(blob)] = blob
        elif op == "insert":
            m[pos:pos] = blob
        elif op == "delete":
            del m[pos : pos + len(blob)]
        elif pos < len(m):
            m[pos] ^= blob[0] or 1
    data = bytes(m)
    _consume(data)
    try:
        recs = list(Reader(io.BytesIO(data)))
    except HeronError:
        return
    for r in recs:
        want = _BY_SEQ.get(r["s"])
        if want is not None and "lost" not in r and r["k"] == want["k"]:
            assert r == want


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(0, 255))
def test_valid_crc_blocks_with_hostile_payloads(payload: bytes, btype: int) -> None:
    """A writer bug or an attacker can produce CRC-valid nonsense; still no crash."""
    import struct

    hdr = fr.parse_block_header(_DATA[8:24])
    assert hdr
    head_end = 8 + fr.BLOCK_OVERHEAD + hdr[1]
    chunk = struct.pack("<BBHIQQQII", 1, 0, 0, 3, 0, 0, 0, len(payload), 16) + payload
    for body in (payload, chunk):
        data = _DATA[:head_end] + fr.encode_block(btype, body) + _DATA[head_end:]
        _consume(data)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=20)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
_records = st.lists(
    st.dictionaries(
        st.sampled_from(["k", "s", "t", "data", "x", "conn", "dir", "lost"]), _values, max_size=6
    )
    | st.fixed_dictionaries(
        {"k": st.just(8), "x": st.lists(st.binary(max_size=8) | st.lists(st.integers(-5, 50)))}
    )
    | _values,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(_records, st.integers(0, 2**64 - 1), st.booleans())
def test_crc_valid_chunks_with_hostile_records(recs: list, first_seq: int, indep: bool) -> None:
    import msgpack

    hdr = fr.parse_block_header(_DATA[8:24])
    assert hdr
    head_end = 8 + fr.BLOCK_OVERHEAD + hdr[1]
    body = msgpack.packb(recs, use_bin_type=True)
    ch = fr.CHUNK_HEADER.pack(0, int(indep), 0, len(recs), first_seq, 0, 0, len(body), 1)
    data = _DATA[:head_end] + fr.encode_block(fr.BlockType.CHUNK, ch + body) + _DATA[head_end:]
    _consume(data)
