"""Protocol reassembly: from capture records to HTTP exchanges.

Pure, sans-I/O and incremental: every parser here takes bytes and returns
events, and nothing reads files, sockets or clocks.  Modules:

* :mod:`.streams` — per connection+direction byte streams, gaps;
* :mod:`.http1` — HTTP/1.x messages (keep-alive, pipelining, chunked);
* :mod:`.http2` — HTTP/2 frames and HPACK, one decoder per direction;
* :mod:`.content` — Content-Encoding gzip/deflate/br/zstd, incremental;
* :mod:`.sse`, :mod:`.ndjson` — streaming body formats for the LLM layer;
* :mod:`.builder` — :class:`Reassembler` and :func:`iter_exchanges`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from heron.analyze.exchange import Exchange

from .builder import MAX_BODY_BYTES, REDACTED, SENSITIVE_HEADERS, Reassembler
from .builder import iter_exchanges as _iter_exchanges
from .content import BodyDecoder
from .ndjson import NDJSONLine, NDJSONParser
from .sse import SSEEvent, SSEParser

__all__ = [
    "MAX_BODY_BYTES",
    "REDACTED",
    "SENSITIVE_HEADERS",
    "BodyDecoder",
    "NDJSONLine",
    "NDJSONParser",
    "Reassembler",
    "SSEEvent",
    "SSEParser",
    "iter_exchanges",
]


def iter_exchanges(
    records: Iterable[Mapping[str, Any]],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    mask_sensitive: bool = True,
) -> Iterator[Exchange]:
    """Rebuild HTTP/1.x and HTTP/2 exchanges from a stream of capture records.

    Records are consumed lazily in capture order (as :class:`heron.format.Reader`
    yields them); each exchange is yielded as soon as its request and response
    have both ended, and exchanges still open when their connection closes
    (``CONN_CLOSE``) or the records run out are yielded with ``partial=True``.
    Only ``CONN_OPEN``, ``DATA`` and ``CONN_CLOSE`` records matter; others are
    ignored.

    Parameters
    ----------
    records
        Record mappings ``{"k": kind, "s": seq, "t": ts_ns, ...}``.
    max_body_bytes
        Keep at most this many decoded bytes per body; beyond it the exchange
        is flagged ``truncated`` (the wire sizes are still counted).
    mask_sensitive
        Show the values of credential headers (Authorization, Cookie,
        x-api-key, ...) as ``"[REDACTED]"`` and flag the exchange
        ``redacted``, whether or not capture already overwrote them.

    Returns
    -------
    Iterator[Exchange]
        One :class:`~heron.analyze.exchange.Exchange` per request/response
        pair, in completion order.  Damage is reported in flags, never raised:
        ``gap`` (bytes lost), ``truncated`` (body cap), ``partial``
        (incomplete), ``mid_stream`` (capture joined an open connection),
        ``parse_error`` (what, connection, direction and stream offset).

    Examples
    --------
    >>> from heron.format import RecordKind
    >>> req = b"POST /v1/chat/completions HTTP/1.1\\r\\nHost: api\\r\\nContent-Length: 2\\r\\n\\r\\n{}"
    >>> resp = b"HTTP/1.1 200 OK\\r\\nContent-Length: 7\\r\\n\\r\\n{\\"a\\":1}"
    >>> recs = [
    ...     {"k": RecordKind.CONN_OPEN, "s": 0, "t": 0, "conn": 1, "pid": 42, "transport": "tls"},
    ...     {"k": RecordKind.DATA, "s": 1, "t": 100, "conn": 1, "pid": 42, "tid": 43, "dir": 0,
    ...      "offset": 0, "len": len(req), "data": req},
    ...     {"k": RecordKind.DATA, "s": 2, "t": 250, "conn": 1, "pid": 42, "tid": 43, "dir": 1,
    ...      "offset": 0, "len": len(resp), "data": resp},
    ... ]
    >>> [ex] = iter_exchanges(recs)
    >>> ex.method, ex.scheme, ex.authority, ex.path, ex.status, ex.response_json()
    ('POST', 'https', 'api', '/v1/chat/completions', 200, {'a': 1})
    >>> ex.request_start_ns, ex.response_start_ns, ex.response_timeline
    (100, 250, [(250, 7)])
    """
    return _iter_exchanges(records, max_body_bytes=max_body_bytes, mask_sensitive=mask_sensitive)
