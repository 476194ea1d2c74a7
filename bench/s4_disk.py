"""Scenario 4: bytes on disk of real captures, against general-purpose compression.

Corpus (``bench/captures.py``, recorded through real ``heron-capture`` at its
default settings, chunks flushed at least once a second): the stand-in's
``bench_agent`` making 200 openai-SDK calls in one growing conversation
(``single``), and 16 such agents of 40 calls each running at once under one
capture (``multi16``).  The plaintext is every DATA payload in the capture, in
record order.  Compared with the ``.heron`` file (all of it: header,
processes, stats, index):

* the plaintext itself;
* gzip -6 of the plaintext (``gzip.compress(level=6)``);
* zstd -3 of the plaintext as one stream (``zstandard``, level 3);
* the same records as JSON lines (payload as a UTF-8 string with
  backslash escapes), gzip -6.

The ratio is the baseline's size over the ``.heron`` size ("x smaller"); the
goal is ≥ 50x smaller than the plaintext on the single conversation.  Sizes
are deterministic for a given capture, so each figure is one measurement.
``--quick`` records only a short single conversation.

Examples
--------
::

    sudo .venv/bin/python -m bench --only 4
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import zstandard

from bench._common import Measure, Row
from bench.captures import real_capture


def sizes(path: Path) -> dict[str, int]:
    """The byte counts compared for one capture."""
    from heron.format import Reader, RecordKind

    data_k = int(RecordKind.DATA)
    plain: list[bytes] = []
    lines: list[bytes] = []
    for rec in Reader(path):
        if rec["k"] == data_k:
            plain.append(rec["data"])
        j = {k: v for k, v in rec.items() if k != "data"}
        if "data" in rec:
            j["data"] = rec["data"].decode("utf-8", "backslashreplace")
        lines.append(json.dumps(j, default=str).encode())
    text = b"".join(plain)
    return {
        "heron": path.stat().st_size,
        "plaintext": len(text),
        "gzip -6": len(gzip.compress(text, compresslevel=6)),
        "zstd -3": len(zstandard.ZstdCompressor(level=3).compress(text)),
        "JSONL + gzip -6": len(gzip.compress(b"\n".join(lines), compresslevel=6)),
    }


def _mb(n: int) -> Measure:
    return Measure([n / 1e6], "MB", digits=3 if n < 10e6 else 2)


def run(quick: bool) -> list[Row]:
    """One row per (corpus, baseline); see the module docstring."""
    rows: list[Row] = []
    corpora = [("single", "1 conversation"), ("multi16", "16 interleaved")]
    # Each real capture costs a heron-capture start (BPF compile, ~10 s here):
    # the smoke test records only the single conversation.
    for kind, label in corpora[:1] if quick else corpora:
        s = sizes(real_capture(kind, quick))
        for base in ("plaintext", "gzip -6", "zstd -3", "JSONL + gzip -6"):
            r = s[base] / s["heron"]
            goal, ok = (
                ("≥ 50x smaller", r >= 50)
                if (kind, base) == ("single", "plaintext")
                else ("", None)
            )
            if not goal:
                goal, ok = (
                    "smaller" if base != "zstd -3" else "info",
                    (r > 1 if base != "zstd -3" else None),
                )
            rows.append(
                Row(
                    f"4. bytes on disk, {label}: .heron vs {base}",
                    _mb(s["heron"]),
                    _mb(s[base]),
                    r,
                    goal,
                    ok,
                    ratio_fmt="{:.1f}x smaller",
                )
            )
    return rows
