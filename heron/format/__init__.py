"""The ``.heron`` file format v1: writer, readers, verification.

See ``format-spec.md`` for the normative byte layout.  The public API:

* :class:`Writer` -- records in, crash-safe compressed chunks out;
* :class:`Reader` -- streaming, recovering record iterator (pipes work);
* :class:`IndexedReader` -- seeks by time using the footer index;
* :func:`verify` -- a full integrity check returning a :class:`VerifyReport`;
* :class:`RecordKind`, :class:`Direction` and :data:`RECORD_FIELDS` -- the
  record table shared by capture and analysis;
* the error classes, all subclasses of :class:`heron.errors.HeronError`.

Examples
--------
>>> import io
>>> from heron.format import Writer, Reader, RecordKind, Direction
>>> buf = io.BytesIO()
>>> with Writer(buf) as w:
...     _ = w.append(RecordKind.PROCESS, 100, pid=7, comm="agent")
...     _ = w.data(200, conn=1, pid=7, dir=Direction.OUT, offset=0, length=4, data=b"ping")
>>> _ = buf.seek(0)
>>> [(r["k"], r["s"]) for r in Reader(buf)]
[(3, 0), (8, 1)]
"""

from __future__ import annotations

from heron.format.errors import (
    CorruptBlock,
    CorruptHeader,
    FormatError,
    IncompatibleFeature,
    InvalidRecord,
    NotAHeronFile,
    OutputError,
    TruncatedFile,
    UnsupportedVersion,
)
from heron.format.reader import (
    ChunkInfo,
    IndexedReader,
    Loss,
    Reader,
    ReadReport,
    SourceError,
)
from heron.format.records import COMMON_FIELDS, RECORD_FIELDS, Direction, Field, RecordKind
from heron.format.verify import VerifyReport, file_info, verify
from heron.format.writer import Writer

__all__ = [
    "COMMON_FIELDS",
    "RECORD_FIELDS",
    "ChunkInfo",
    "CorruptBlock",
    "CorruptHeader",
    "Direction",
    "Field",
    "FormatError",
    "IncompatibleFeature",
    "IndexedReader",
    "InvalidRecord",
    "Loss",
    "NotAHeronFile",
    "OutputError",
    "ReadReport",
    "Reader",
    "RecordKind",
    "SourceError",
    "TruncatedFile",
    "UnsupportedVersion",
    "VerifyReport",
    "Writer",
    "file_info",
    "verify",
]
