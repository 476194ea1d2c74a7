"""Whole-file checks and summaries: :func:`verify` and :func:`file_info`.

These back ``heron verify`` and ``heron info``; they never raise for a
damaged file.  Problems are reported in the returned objects.

Examples
--------
>>> import io
>>> from heron.format import Writer, RecordKind
>>> buf = io.BytesIO()
>>> with Writer(buf) as w:
...     _ = w.append(RecordKind.ANNOTATION, 1, text="x")
>>> verify(io.BytesIO(buf.getvalue())).status
'intact'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import IO, Any

from heron.errors import HeronError
from heron.format.reader import IndexedReader, Loss, Reader, ReadReport
from heron.format.records import RecordKind

__all__ = ["VerifyReport", "file_info", "verify"]


@dataclass
class VerifyReport:
    """Result of :func:`verify`.

    ``status`` is ``"intact"`` (exit code 0), ``"damaged"`` (readable but
    something was lost or the file was not closed cleanly; exit 1) or
    ``"unreadable"`` (exit 2; ``reason`` says why in one line).

    Examples
    --------
    >>> VerifyReport("unreadable", reason="empty file").exit_code
    2
    """

    status: str
    reason: str = ""
    header: dict[str, Any] = field(default_factory=dict)
    report: ReadReport | None = None

    @property
    def exit_code(self) -> int:
        """0 intact, 1 damaged but readable, 2 unreadable."""
        return {"intact": 0, "damaged": 1}.get(self.status, 2)

    @property
    def losses(self) -> list[Loss]:
        """Every loss found (empty when intact or unreadable)."""
        return [] if self.report is None else self.report.losses

    def lines(self) -> list[str]:
        """Human-readable summary, one finding per line.

        Examples
        --------
        >>> VerifyReport("unreadable", reason="not a .heron file").lines()
        ['unreadable: not a .heron file']
        """
        if self.status == "unreadable" or self.report is None:
            return [f"unreadable: {self.reason}"]
        r = self.report
        out = [
            f"{self.status}: {r.records} records in {r.chunks} chunks"
            + (f" (seq 0..{r.next_seq - 1})" if r.next_seq else "")
        ]
        if not r.closed:
            out.append(
                "not closed cleanly: no index/footer (writer killed or still running); "
                f"records after seq {r.next_seq - 1 if r.next_seq else '-'} may be missing"
            )
        elif not r.end_magic:
            out.append("end magic missing or followed by extra bytes")
        out.extend("  " + loss.describe() for loss in r.losses)
        if r.unknown_kinds:
            out.append(
                f"skipped records of unknown kinds: {dict(sorted(r.unknown_kinds.items(), key=repr))}"
            )
        if r.unknown_blocks:
            out.append(f"skipped unknown block types: {dict(sorted(r.unknown_blocks.items()))}")
        return out


def verify(src: str | os.PathLike[str] | IO[bytes]) -> VerifyReport:
    """Read the whole file, checking every CRC, and say what (if anything) was lost.

    Examples
    --------
    >>> import io
    >>> v = verify(io.BytesIO(b"hello world"))
    >>> v.status, v.exit_code
    ('unreadable', 2)
    """
    try:
        reader = Reader(src)
    except HeronError as e:
        return VerifyReport("unreadable", reason=str(e))
    with reader:
        try:
            for _ in reader.chunks():
                pass
        except HeronError as e:  # pragma: no cover - the reader reports instead
            return VerifyReport("unreadable", reason=str(e), header=reader.header)
    rep = reader.report
    if rep.intact:
        return VerifyReport("intact", header=reader.header, report=rep)
    if rep.chunks == 0 and not reader.header:
        why = "; ".join(x.describe() for x in rep.losses[:2]) or "no readable blocks"
        return VerifyReport("unreadable", reason=f"no readable data: {why}", report=rep)
    return VerifyReport("damaged", header=reader.header, report=rep)


def file_info(src: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """Summarise a file for ``heron info``: header, time range, counts, losses.

    Uses the footer index when the file is seekable and was closed cleanly;
    otherwise reads every chunk (and then also reports damage).

    Examples
    --------
    >>> import io
    >>> from heron.format import Writer, RecordKind
    >>> buf = io.BytesIO()
    >>> with Writer(buf) as w:
    ...     _ = w.append(RecordKind.STATS, 5, lost={"ringbuf": 2})
    >>> i = file_info(io.BytesIO(buf.getvalue()))
    >>> i["closed"], i["records"], i["kinds"], i["lost_events"]
    (True, 1, {'STATS': 1}, {'ringbuf': 2})
    """
    info: dict[str, Any] = {}
    if isinstance(src, (str, os.PathLike)):
        seekable = os.fspath(src) != "-"
    else:
        seekable = bool(src.seekable())
    if seekable:
        try:
            ir = IndexedReader(src)
        except HeronError:
            ir = None
        if ir is not None:
            with ir:
                if ir.from_footer and ir.index is not None:
                    idx = ir.index
                    kinds = {int(k): int(v) for k, v in dict(idx.get("kinds", {})).items()}
                    tr = ir.time_range
                    info = _assemble(
                        ir.header,
                        chunks=len(ir.chunks),
                        records=int(idx.get("records", 0)),
                        kinds=kinds,
                        first_t=idx.get("first_t", tr[0] if tr else None),
                        last_t=idx.get("last_t", tr[1] if tr else None),
                        stats=idx.get("stats"),
                        closed=True,
                        losses=[],
                    )
                    info["source"] = "index"
                    info["payload_bytes"] = sum(max(c.data_bytes, 0) for c in ir.chunks)
                    info["file_bytes"] = _size(src)
                    return info
            if hasattr(src, "seek"):
                src.seek(0)
    v = verify(src)
    if v.report is None:
        raise _Unreadable(v.reason)
    r = v.report
    info = _assemble(
        v.header,
        chunks=r.chunks,
        records=r.records,
        kinds=r.kinds,
        first_t=r.first_t,
        last_t=r.last_t,
        stats=r.last_stats,
        closed=r.closed,
        losses=[x.describe() for x in r.losses],
    )
    info["source"] = "scan"
    info["status"] = v.status
    info["payload_bytes"] = r.data_bytes
    info["file_bytes"] = _size(src) if seekable else None
    return info


def _size(src: str | os.PathLike[str] | IO[bytes]) -> int | None:
    """Size in bytes of a seekable input (None when it cannot be told)."""
    try:
        if isinstance(src, (str, os.PathLike)):
            return os.stat(src).st_size
        pos = src.tell()
        end = src.seek(0, os.SEEK_END)
        src.seek(pos)
        return int(end)
    except (OSError, ValueError):
        return None


class _Unreadable(HeronError):
    pass


def _assemble(
    header: dict[str, Any],
    *,
    chunks: int,
    records: int,
    kinds: dict[int, int],
    first_t: Any,
    last_t: Any,
    stats: Any,
    closed: bool,
    losses: list[str],
) -> dict[str, Any]:
    names = {int(k): k.name for k in RecordKind}
    lost: dict[str, int] = {}
    if isinstance(stats, dict) and isinstance(stats.get("lost"), dict):
        lost = {str(k): v for k, v in stats["lost"].items() if isinstance(v, int)}
    off = header.get("realtime_offset_ns")
    wall = None
    if isinstance(off, int) and isinstance(first_t, int) and isinstance(last_t, int):
        wall = (first_t + off, last_t + off)
    hdr = {k: v for k, v in header.items() if not isinstance(v, bytes)}
    return {
        "header": hdr,
        "chunks": chunks,
        "records": records,
        "kinds": {names.get(k, f"kind-{k}"): n for k, n in sorted(kinds.items())},
        "first_t": first_t,
        "last_t": last_t,
        "duration_s": (last_t - first_t) / 1e9
        if isinstance(first_t, int) and isinstance(last_t, int)
        else None,
        "realtime_range_ns": wall,
        "lost_events": lost,
        "closed": closed,
        "losses": losses,
    }
