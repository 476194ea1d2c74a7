"""The record kinds of a ``.heron`` file: the one table both sides share.

Capture writes these records; analysis reads them.  ``format-spec.md``
mirrors :data:`RECORD_FIELDS` field for field, and a test checks that the
two agree.  Rules that keep old and new readers working together:

* Each record on disk is a msgpack map ``{"k": kind, "s": seq, "t": ts_ns,
  ...fields}``.  ``s`` is the writer's record sequence number (0, 1, 2, ...
  with no gaps, so a reader can see exactly which records were lost) and
  ``t`` is kernel ``CLOCK_MONOTONIC`` nanoseconds.
* Fields are only ever added, never renamed or re-typed.  Readers ignore
  fields they do not know and treat a missing optional field as ``None``.
* A reader skips a record whose kind it does not know (and counts it).
* Bulk bytes (``DATA.data``) stay a single msgpack ``bin`` value so decoding
  cost does not grow with payload size.

Examples
--------
>>> RecordKind.DATA.name, int(RecordKind.DATA)
('DATA', 8)
>>> [f.name for f in RECORD_FIELDS[RecordKind.CONN_CLOSE]]
['conn', 'pid', 'reason']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class RecordKind(IntEnum):
    """Every record kind.  Numbers are on disk forever: never reuse one."""

    CAPTURE_START = 1
    CAPTURE_STOP = 2
    PROCESS = 3
    FORK = 4
    EXEC = 5
    EXIT = 6
    CONN_OPEN = 7
    DATA = 8
    CONN_CLOSE = 9
    STATS = 10
    CLOCK_SYNC = 11
    ANNOTATION = 12


class Direction(IntEnum):
    """Direction of a ``DATA`` record, seen from the traced process."""

    OUT = 0  # the process wrote/sent these bytes (SSL_write, write, sendto...)
    IN = 1  # the process read/received these bytes (SSL_read, read, recvfrom...)


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record kind: its msgpack key, type, unit and meaning."""

    name: str
    type: str  # msgpack-level type as written in format-spec.md
    required: bool
    unit: str
    doc: str


def _f(name: str, type_: str, doc: str, *, required: bool = False, unit: str = "") -> Field:
    return Field(name, type_, required, unit, doc)


#: Common to every record (not repeated per kind below).
COMMON_FIELDS: tuple[Field, ...] = (
    _f("k", "uint", "record kind (RecordKind)", required=True),
    _f("s", "uint", "record sequence number, 0-based, no gaps within a file", required=True),
    _f("t", "uint", "time of the event", required=True, unit="ns CLOCK_MONOTONIC"),
)

RECORD_FIELDS: dict[RecordKind, tuple[Field, ...]] = {
    RecordKind.CAPTURE_START: (
        _f("tool", "str", "writer program name, e.g. 'heron-capture'", required=True),
        _f("version", "str", "writer program version", required=True),
        _f("argv", "array[str]", "the writer's own command line"),
        _f("options", "map", "capture options in effect (filters, caps, ports, redaction)"),
        _f("target", "array[str]", "the command run under capture (-- CMD), if any"),
        _f("target_pid", "int", "pid of that command"),
        _f("realtime_ns", "int", "CLOCK_REALTIME at start", unit="ns since epoch"),
    ),
    RecordKind.CAPTURE_STOP: (
        _f(
            "reason",
            "str",
            "why capture stopped: 'signal', 'command-exited', 'duration', 'error', ...",
        ),
        _f("exit_status", "int", "exit status of the -- CMD target, if any"),
        _f("error", "str", "what went wrong, when reason is 'error'"),
    ),
    RecordKind.PROCESS: (
        _f("pid", "int", "process id (tgid)", required=True),
        _f("ppid", "int", "parent process id"),
        _f("comm", "str", "kernel comm (16 bytes max)"),
        _f("exe", "str", "path of the executable"),
        _f("cmdline", "array[str]", "argv"),
        _f("cwd", "str", "working directory"),
        _f("uid", "int", "real uid"),
        _f("gid", "int", "real gid"),
        _f("start_ns", "int", "process start time", unit="ns CLOCK_MONOTONIC"),
        _f("cgroup", "str", "cgroup v2 path"),
        _f("container_id", "str", "container id parsed from the cgroup path, if any"),
        _f("source", "str", "'scan' (running at start), 'exec' (seen exec) or 'fork'"),
    ),
    RecordKind.FORK: (
        _f("pid", "int", "child pid", required=True),
        _f("ppid", "int", "parent pid", required=True),
        _f("comm", "str", "child comm"),
    ),
    RecordKind.EXEC: (
        _f("pid", "int", "pid that called exec", required=True),
        _f("ppid", "int", "parent pid"),
        _f("comm", "str", "comm after exec"),
        _f("filename", "str", "path passed to exec"),
        _f(
            "argv",
            "array[str]",
            "argv, as read in BPF at exec time (may be cut; see argv_truncated)",
        ),
        _f("argv_truncated", "bool", "argv was longer than what BPF copied"),
        _f("uid", "int", "uid"),
        _f("gid", "int", "gid"),
    ),
    RecordKind.EXIT: (
        _f("pid", "int", "pid of the exiting process", required=True),
        _f("exit_code", "int", "exit status (wait(2) style low byte), when the process exited"),
        _f("signal", "int", "terminating signal number, when killed by a signal"),
        _f("comm", "str", "comm at exit"),
    ),
    RecordKind.CONN_OPEN: (
        _f("conn", "uint", "connection id, unique within the file, never reused", required=True),
        _f("pid", "int", "owning process", required=True),
        _f("tid", "int", "thread that opened or first used it"),
        _f(
            "transport",
            "str",
            "'tls' (plaintext from a TLS library) or 'tcp' (plain socket bytes)",
            required=True,
        ),
        _f("lib", "str", "'openssl', 'gnutls', 'syscall', ..."),
        _f("fd", "int", "socket fd, when known"),
        _f("ssl", "uint", "library session pointer (SSL*), when transport is 'tls'"),
        _f("family", "str", "'ipv4', 'ipv6' or 'unix'"),
        _f("local_addr", "str", "local address"),
        _f("local_port", "int", "local port"),
        _f("remote_addr", "str", "peer address"),
        _f("remote_port", "int", "peer port"),
        _f("role", "str", "'client' (connect) or 'server' (accept)"),
        _f("sni", "str", "TLS server name, when known"),
        _f(
            "source",
            "str",
            "how it was learned: 'connect', 'accept', 'proc', 'ssl' (first TLS call)",
        ),
    ),
    RecordKind.DATA: (
        _f("conn", "uint", "connection id (CONN_OPEN.conn)", required=True),
        _f("pid", "int", "process", required=True),
        _f("tid", "int", "thread"),
        _f(
            "dir",
            "uint",
            "Direction: 0 out (written by the process), 1 in (read by it)",
            required=True,
        ),
        _f(
            "offset",
            "uint",
            "byte offset of data[0] in this connection+direction stream",
            required=True,
            unit="bytes",
        ),
        _f("len", "uint", "original length of this call's bytes", required=True, unit="bytes"),
        _f("data", "bin", "the bytes as captured (len(data) < len when truncated)", required=True),
        _f("trunc", "bool", "data was cut at the body cap; the rest of len is missing"),
        _f(
            "redacted",
            "array[array[uint,uint]]",
            "[start, length] spans of data whose bytes were overwritten by credential redaction",
        ),
        _f("fn", "str", "the hooked function, e.g. 'SSL_write_ex', 'sendto'"),
    ),
    RecordKind.CONN_CLOSE: (
        _f("conn", "uint", "connection id", required=True),
        _f("pid", "int", "process"),
        _f("reason", "str", "'close', 'ssl_free', 'exit', 'capture-end'"),
    ),
    RecordKind.STATS: (
        _f("lost", "map[str,uint]", "events dropped so far, per source, cumulative", required=True),
        _f("events", "uint", "events received so far, cumulative"),
        _f("bytes", "uint", "payload bytes received so far, cumulative", unit="bytes"),
        _f("processes", "uint", "processes seen so far"),
        _f("counters", "map[str,uint]", "other cumulative counters"),
    ),
    RecordKind.CLOCK_SYNC: (
        _f(
            "realtime_ns",
            "int",
            "CLOCK_REALTIME sampled next to t",
            required=True,
            unit="ns since epoch",
        ),
    ),
    RecordKind.ANNOTATION: (
        _f("text", "str", "free text", required=True),
        _f("fields", "map", "free-form structured data"),
    ),
}


#: Integers the analysis keeps must fit a signed 64-bit column (Arrow Int64).
I64_MIN, I64_END = -(1 << 63), 1 << 63


def _typed(type_: str, v: Any) -> bool:
    """Whether ``v`` is of the format's field type ``type_`` (format-spec.md section 8)."""
    if type_ == "int":
        return v.__class__ is int and I64_MIN <= v < I64_END
    if type_ == "uint":
        return v.__class__ is int and 0 <= v < I64_END
    if type_ == "str":
        return v.__class__ is str
    if type_ == "bool":
        return v.__class__ is bool
    if type_ == "bin":
        return v.__class__ is bytes
    if type_ == "map":
        return v.__class__ is dict
    if type_ == "map[str,uint]":
        return v.__class__ is dict and all(
            k.__class__ is str and x.__class__ is int and x >= 0 for k, x in v.items()
        )
    if type_ == "array[str]":
        return v.__class__ is list and all(x.__class__ is str for x in v)
    return True  # a type this version does not check


_FIELD_TYPES: dict[int, dict[str, str]] = {
    int(kind): {f.name: f.type for f in fs} for kind, fs in RECORD_FIELDS.items()
}


def typed_fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    """``rec`` without the fields whose value is not of the type the format gives them.

    Only a buggy or hostile writer produces such values; the analysis then
    treats the field as absent (a ``t`` that is not an integer, too) rather
    than failing on it.  Integers must also fit 64 signed bits, as the
    tables keep them.  Returns ``rec`` itself when every field is fine.

    Examples
    --------
    >>> typed_fields({"k": 3, "s": 0, "t": 1, "pid": 7, "comm": "node"})["comm"]
    'node'
    >>> typed_fields({"k": 3, "s": 0, "t": "1", "pid": "7", "cmdline": ["a", 1]})
    {'k': 3, 's': 0}
    """
    k = rec.get("k")
    types = _FIELD_TYPES.get(k) if k.__class__ is int else None
    bad = [
        key
        for key, v in rec.items()
        if (key == "t" and (v.__class__ is not int or not 0 <= v < I64_END))
        or (types is not None and key in types and not _typed(types[key], v))
    ]
    if not bad:
        return rec if isinstance(rec, dict) else dict(rec)
    return {key: v for key, v in rec.items() if key not in bad}
