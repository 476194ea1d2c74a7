"""One LLM call seen more than once: through a local gateway, or from both ends of a socket.

When a capture traces an agent AND a local gateway it talks to (a LiteLLM
proxy, say), every model call is on the wire three times:

1. the agent's request to the gateway (the agent's client connection);
2. the same bytes from the gateway's side (its accepted, ``role`` server,
   connection): the **server side**;
3. the request the gateway then makes to the provider, often rewritten
   (another model name, its own key): the **upstream** request.

A traced local model server (vLLM, Ollama) gives the first two.  Counting
each as a call would double or triple calls, tokens and tools, so the
calls table keeps every row but marks 2 and 3 with ``duplicate_of`` (the
call they are another view of: the agent's own call, or the server side
when the agent was not traced) and ``duplicate_kind``.  Tools, loops,
``heron summary`` and ``heron diff`` count only the rows that are not
duplicates.

Rules (all from the wire; nothing is guessed from host names):

* **server side**: a ``role`` server connection whose local and remote
  address and port are a captured client connection's remote and local
  ones (the two ends of one TCP connection; when a port pair recurs, the
  client connection opened nearest in time).  Their calls pair in order
  of start, while their request sizes agree.
* **upstream**: a client call of the process that served a server-side
  call, that starts after that call's request began and ends before its
  response ended, with the same conversation content (the model-free
  history digest: roles, text, tool calls and results, no ids) -- or, for
  calls without a history (embeddings, ...), the only such call inside it.
  A gateway's retries and fallbacks are all upstream of the one call.
  A chain of gateways resolves to the first call.

Examples
--------
>>> c = [CallView(0, pid=1, conn=10, start=0, end=100, request_bytes=50, digest=b"h"),
...      CallView(1, pid=2, conn=20, start=1, end=99, request_bytes=50, digest=b"h"),
...      CallView(2, pid=2, conn=30, start=5, end=90, request_bytes=70, digest=b"h")]
>>> conns = {10: ConnView(10, "client", ("127.0.0.1", 5000), ("127.0.0.1", 4000), 0),
...          20: ConnView(20, "server", ("127.0.0.1", 4000), ("127.0.0.1", 5000), 0),
...          30: ConnView(30, "client", ("127.0.0.1", 5001), ("10.0.0.1", 443), 0)}
>>> find_duplicates(c, conns)
{1: (0, 'server_side'), 2: (0, 'upstream')}
"""

from __future__ import annotations

import bisect
import ipaddress
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SERVER_SIDE = "server_side"
UPSTREAM = "upstream"


@dataclass(frozen=True, slots=True)
class CallView:
    """What duplicate matching reads of one call (``index`` is its call_id).

    ``digest`` is the model-free history digest (None: no history, e.g. an
    embeddings call); times are monotonic nanoseconds.

    Examples
    --------
    >>> CallView(3, pid=7, conn=1, start=10, end=20, request_bytes=5, digest=None).index
    3
    """

    index: int
    pid: int | None
    conn: int | None
    start: int | None
    end: int | None
    request_bytes: int | None
    digest: bytes | None


@dataclass(frozen=True, slots=True)
class ConnView:
    """One connection's end: ``role`` (client/server/None), local and remote (addr, port).

    Examples
    --------
    >>> ConnView(1, "server", ("::ffff:127.0.0.1", 4000), ("127.0.0.1", 5000), None).local
    ('::ffff:127.0.0.1', 4000)
    """

    conn: int
    role: str | None
    local: tuple[str | None, int | None] | None
    remote: tuple[str | None, int | None] | None
    opened: int | None


def _addr(a: tuple[str | None, int | None] | None) -> tuple[str, int] | None:
    """An address in one spelling (IPv4-mapped IPv6 as IPv4); None if either part is unknown."""
    if a is None or not a[0] or not a[1]:
        return None
    host = a[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return (host, a[1])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (str(ip), a[1])


def twins(conns: Mapping[int, ConnView]) -> dict[int, int]:
    """Server-side connection -> the captured client connection at its other end.

    The two ends are one TCP connection when the client's local address
    and port are the server side's remote ones and the ports they connect
    are the same (a server side's own address is often unknown: an accept
    on a wildcard bind).  Where such a triple recurs (ports are reused in
    a long capture), the client connection opened nearest in time.

    Examples
    --------
    >>> twins({1: ConnView(1, "client", ("127.0.0.1", 5000), ("127.0.0.1", 4000), 10),
    ...        2: ConnView(2, "server", (None, 4000), ("::ffff:127.0.0.1", 5000), 11)})
    {2: 1}
    """
    clients: dict[tuple[str, int, int], list[ConnView]] = defaultdict(list)
    for c in conns.values():
        lo = _addr(c.local)
        if c.role != "server" and lo is not None and c.remote is not None and c.remote[1]:
            clients[(lo[0], lo[1], c.remote[1])].append(c)
    out: dict[int, int] = {}
    for s in conns.values():
        re = _addr(s.remote)
        if s.role != "server" or re is None or s.local is None or not s.local[1]:
            continue
        lo = _addr(s.local)  # None when the server's own address is unknown
        cands = [
            c
            for c in clients.get((re[0], re[1], s.local[1]), ())
            if lo is None or _addr(c.remote) in (None, lo)
        ]
        if not cands:
            continue
        if s.opened is None:
            best = cands[0]
        else:
            opened = s.opened
            best = min(
                cands, key=lambda c: abs(c.opened - opened) if c.opened is not None else 1 << 62
            )
        out[s.conn] = best.conn
    return out


def find_duplicates(
    calls: Sequence[CallView], conns: Mapping[int, ConnView]
) -> dict[int, tuple[int, str]]:
    """Call index -> (the call it is another view of, kind); see the module docstring.

    Examples
    --------
    >>> find_duplicates([], {})
    {}
    """
    by_conn: dict[int, list[CallView]] = defaultdict(list)
    for c in calls:
        if c.conn is not None:
            by_conn[c.conn].append(c)
    for lst in by_conn.values():
        lst.sort(key=lambda c: (c.start is None, c.start or 0, c.index))
    link: dict[int, tuple[int, str]] = {}
    # 1. server sides of captured client connections
    for s_conn, c_conn in twins(conns).items():
        for s, c in zip(by_conn.get(s_conn, ()), by_conn.get(c_conn, ()), strict=False):
            if s.request_bytes != c.request_bytes:
                break  # out of step (a loss on one side): stop rather than mispair
            link[s.index] = (c.index, SERVER_SIDE)
    # 2. upstream requests made while serving a server-side call
    served: dict[int, list[tuple[int, int, CallView]]] = defaultdict(list)  # by pid
    clients: dict[int, list[tuple[int, int, CallView]]] = defaultdict(list)  # by pid
    for conn, lst in by_conn.items():
        cv = conns.get(conn)
        if cv is None:
            continue
        for c in lst:
            if c.pid is None or c.start is None or c.end is None:
                continue
            (served if cv.role == "server" else clients)[c.pid].append((c.start, c.end, c))
    for pid, sides in served.items():
        sides.sort(key=lambda x: (x[0], x[2].index))
        starts = [x[0] for x in sides]
        longest = max(e - b for b, e, _ in sides)
        for ub, ue, u in clients.get(pid, ()):
            inside: list[CallView] = []
            i = bisect.bisect_right(starts, ub)
            while i > 0:  # back through the sides that started before u, while one can hold it
                i -= 1
                sb, se, s = sides[i]
                if sb < ub - longest:
                    break
                if ue <= se:
                    inside.append(s)
            inside.reverse()
            if u.digest is not None:
                same = [s for s in inside if s.digest == u.digest]
            else:
                same = inside if len(inside) == 1 and inside[0].digest is None else []
            if same:
                # identical requests served at once: the latest-started holds it
                link[u.index] = (same[-1].index, UPSTREAM)
    # 3. resolve chains (gateway behind gateway) to the first call
    out: dict[int, tuple[int, str]] = {}
    for i, (j, kind) in link.items():
        seen = {i}
        while j in link and j not in seen:
            seen.add(j)
            j = link[j][0]
        out[i] = (j, kind)
    return out
