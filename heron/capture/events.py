"""Decoding of the ring-buffer events written by ``bpf/heron.c`` (sans-IO).

The layouts mirror ``bpf/heron.h`` field for field; ``tests/capture`` checks
the sizes against the C structs.  Every event starts with the same 24-byte
header ``{u32 type, u32 pid, u32 tid, u32 aux, u64 ts}``.

Examples
--------
>>> raw = HDR.pack(EV_FORK, 42, 42, 0, 1000) + struct.pack("<II16s", 7, 0, b"sh")
>>> decode(raw)
Fork(ts=1000, pid=42, ppid=7, comm='sh')
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from heron.capture.errors import EventDecodeError

EV_DATA = 1
EV_CLOSE = 2
EV_EXEC = 3
EV_FORK = 4
EV_EXIT = 5
EV_CONNECT = 6
EV_ACCEPT = 7
EV_SNI = 8
EV_NOT_PLAIN = 9
EV_LOCAL = 10

#: DATA.fn names, indexed by the FN_* numbers of heron.h.
FN_NAMES = (
    "SSL_write",
    "SSL_read",
    "SSL_write_ex",
    "SSL_read_ex",
    "gnutls_record_send",
    "gnutls_record_recv",
    "write",
    "read",
    "sendto",
    "recvfrom",
    "writev",
    "readv",
)
LIB_NAMES = ("openssl", "gnutls", "syscall")

DF_LAST = 1
DF_TRUNC = 2

#: STATS.lost keys, indexed by the LOST_* numbers of heron.h.
LOST_NAMES = (
    "tls_chunks",
    "tls_bytes",
    "plain_chunks",
    "plain_bytes",
    "proc_events",
    "conn_events",
    "call_stash",
    "conn_state",
)

CLOSE_REASONS = {1: "ssl_free", 2: "ssl_new", 3: "close", 4: "fd_changed"}

HDR = struct.Struct("<IIIIQ")
DATA_META = struct.Struct("<24xQQQQIIiBBBB")  # 72 bytes
CLOSE = struct.Struct("<24xQQiI")
EXEC = struct.Struct("<24xIIIIQQ16s256s")  # then argv[1024]
FORK = struct.Struct("<24xII16s")
EXIT = struct.Struct("<24xiI16s")
SOCK = struct.Struct("<24xiHH16sQ16s")
SNI = struct.Struct("<24xQ256s")

AF_INET = 2
AF_INET6 = 10


@dataclass(frozen=True, slots=True)
class DataChunk:
    """One chunk of one hooked call's bytes."""

    ts: int
    pid: int
    tid: int
    conn: int  # kernel connection id
    ssl: int
    call_off: int  # stream offset of the call's first byte
    call_len: int  # bytes the call really moved
    chunk_off: int  # offset of this chunk inside the call
    fd: int
    dir: int
    fn: int
    lib: int
    flags: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    ts: int
    pid: int
    conn: int
    ssl: int
    fd: int
    reason: str
    not_plain: bool = False  # EV_NOT_PLAIN: a plain-port socket carries TLS


@dataclass(frozen=True, slots=True)
class Exec:
    ts: int
    pid: int
    ppid: int
    uid: int
    gid: int
    start_ns: int
    cgroup_id: int
    comm: str
    filename: str
    argv: list[str]
    argv_truncated: bool


@dataclass(frozen=True, slots=True)
class Fork:
    ts: int
    pid: int
    ppid: int
    comm: str


@dataclass(frozen=True, slots=True)
class Exit:
    ts: int
    pid: int
    exit_code: int | None
    signal: int | None
    comm: str


@dataclass(frozen=True, slots=True)
class Sock:
    """A connect() or accept() that succeeded (or is in progress)."""

    ts: int
    pid: int
    tid: int
    fd: int
    role: str  # 'client' (connect) or 'server' (accept)
    family: str
    addr: str  # the peer
    port: int
    local_port: int  # accept: the listener's bound port; connect: 0 until known (see Local)
    conn: int  # plain-port connection id, 0 if not recorded
    local_addr: str = ""


@dataclass(frozen=True, slots=True)
class Local:
    """The local address a connect() got, once the connection is established."""

    ts: int
    pid: int
    fd: int
    addr: str
    port: int


@dataclass(frozen=True, slots=True)
class Sni:
    ts: int
    pid: int
    ssl: int
    name: str


Event = DataChunk | Close | Exec | Fork | Exit | Sock | Sni | Local


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "replace")


def _addr(family: int, raw: bytes) -> tuple[str, str]:
    if family == AF_INET:
        return "ipv4", str(ipaddress.IPv4Address(raw[:4]))
    if family == AF_INET6:
        a = ipaddress.IPv6Address(raw[:16])
        return "ipv6", str(a.ipv4_mapped or a)
    return f"af{family}", ""


def decode(raw: bytes | memoryview) -> Event:
    """Decode one ring-buffer event.

    Raises
    ------
    EventDecodeError
        When the event is shorter than its type's layout or of unknown type.

    Examples
    --------
    >>> decode(HDR.pack(EV_EXIT, 5, 5, 1, 9) + EXIT.pack(256, 0, b"py")[24:])
    Exit(ts=9, pid=5, exit_code=1, signal=None, comm='py')
    """
    if len(raw) < HDR.size:
        raise EventDecodeError(f"event of {len(raw)} bytes is shorter than its 24-byte header")
    typ, pid, tid, aux, ts = HDR.unpack_from(raw)
    try:
        if typ == EV_DATA:
            (conn, ssl, call_off, call_len, chunk_off, chunk_len, fd, dir_, fn, lib, flags) = (
                DATA_META.unpack_from(raw)
            )
            end = DATA_META.size + chunk_len
            if end > len(raw):
                raise EventDecodeError(
                    f"DATA event says {chunk_len} payload bytes but carries {len(raw) - DATA_META.size}"
                )
            return DataChunk(
                ts,
                pid,
                tid,
                conn,
                ssl,
                call_off,
                call_len,
                chunk_off,
                fd,
                dir_,
                fn,
                lib,
                flags,
                bytes(raw[DATA_META.size : end]),
            )
        if typ in (EV_CLOSE, EV_NOT_PLAIN):
            conn, ssl, fd, reason = CLOSE.unpack_from(raw)
            if typ == EV_NOT_PLAIN:
                return Close(ts, pid, conn, ssl, fd, "not_plain", True)
            return Close(ts, pid, conn, ssl, fd, CLOSE_REASONS.get(reason, str(reason)))
        if typ == EV_EXEC:
            ppid, uid, gid, argv_len, start_ns, cgid, comm, filename = EXEC.unpack_from(raw)
            argv_raw = bytes(raw[EXEC.size : EXEC.size + min(argv_len, 1024)])
            args = [a.decode("utf-8", "replace") for a in argv_raw.split(b"\0")]
            if args and args[-1] == "":
                args.pop()
            return Exec(
                ts,
                pid,
                ppid,
                uid,
                gid,
                start_ns,
                cgid,
                _cstr(comm),
                _cstr(filename),
                args,
                bool(aux & 1),
            )
        if typ == EV_FORK:
            ppid, _, comm = FORK.unpack_from(raw)
            return Fork(ts, pid, ppid, _cstr(comm))
        if typ == EV_EXIT:
            code, _, comm = EXIT.unpack_from(raw)
            if not aux & 1:  # neither exit_group nor a fatal signal was seen
                return Exit(ts, pid, None, None, _cstr(comm))
            sig = code & 0x7F
            if sig:
                return Exit(ts, pid, None, sig, _cstr(comm))
            return Exit(ts, pid, (code >> 8) & 0xFF, None, _cstr(comm))
        if typ in (EV_CONNECT, EV_ACCEPT):
            fd, family, port, addr, conn, laddr = SOCK.unpack_from(raw)
            fam, text = _addr(family, addr)
            if typ == EV_CONNECT:  # local known when established before connect() returned
                local = _addr(family, laddr)[1] if aux else ""
                return Sock(ts, pid, tid, fd, "client", fam, text, port, aux, conn, local)
            return Sock(ts, pid, tid, fd, "server", fam, text, port, aux, conn)
        if typ == EV_LOCAL:
            fd, family, port, addr, _, _ = SOCK.unpack_from(raw)
            return Local(ts, pid, fd, _addr(family, addr)[1], port)
        if typ == EV_SNI:
            ssl, name = SNI.unpack_from(raw)
            return Sni(ts, pid, ssl, _cstr(name))
    except struct.error as e:
        raise EventDecodeError(f"event type {typ} of {len(raw)} bytes: {e}") from None
    raise EventDecodeError(f"unknown event type {typ} ({len(raw)} bytes)")
