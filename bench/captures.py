"""The corpora of the benchmarks: real captures, and large captures grown from them.

**Real captures** (:func:`real_capture`) are made exactly as a user would:
the stand-in LLM provider (:class:`heron.standin.StandIn`, TLS on loopback)
and ``heron-capture -o FILE -- <agent>`` around the stand-in's
``bench_agent`` (the openai SDK, growing chat histories with tool rounds):

* ``single``: one agent, one growing conversation;
* ``single-b``: the same again, a second run (the other side of a diff);
* ``multi16``: 16 agents run concurrently (``bench/fanout.py``) under one
  capture, so 16 conversations interleave in one file.

They are cached in ``bench/out/corpus/`` and re-recorded (root) when missing
or older than the capture or format code.

**Large captures** (:func:`grow`) are built by replaying a real capture's
records through :class:`heron.format.Writer` again and again, each copy with
shifted pids, connection ids and timestamps (copy ``i`` starts where copy
``i - 1`` ended), until the DATA plaintext reaches the target size.  So a
500 MB capture holds many processes, each with the real growing conversation
bytes heron-capture recorded, compressed and deduplicated by the real writer.

Regenerate by hand::

    sudo .venv/bin/python -m bench.captures single        # or multi16
    .venv/bin/python -m bench.captures grow SRC DEST 500  # MB of plaintext

Examples
--------
>>> copy_fields({"pid": 5, "ppid": 1, "conn": 3}, pid_shift=10, conn_shift=100)
{'pid': 15, 'ppid': 11, 'conn': 103}
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import (
    PY,
    ROOT,
    BenchSkip,
    fresh,
    heron_capture_cmd,
    out_dir,
    require_bpf,
    run_measured,
)

AGENT = "heron.standin.agents.bench_agent"
KINDS = ("single", "single-b", "multi16")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def agent_available() -> str | None:
    """Why the bench agent cannot run, or None."""
    try:
        __import__(AGENT)
    except ImportError as e:
        return f"{AGENT} is not available ({e})"
    return None


def agent_cmd(base_url: str, ca: str, calls: int | None = None) -> list[str]:
    """The bench agent's command line (``--calls`` only when the agent accepts it)."""
    cmd = [PY, "-m", AGENT, "--base-url", base_url, "--ca", ca]
    if calls is not None and "--calls" in _agent_help():
        cmd += ["--calls", str(calls)]
    return cmd


_HELP: list[str] = []


def _agent_help() -> str:
    if not _HELP:
        p = subprocess.run(
            [PY, "-m", AGENT, "--help"], capture_output=True, text=True, timeout=60, env=_env()
        )
        _HELP.append(p.stdout)
    return _HELP[0]


def fanout_cmd(n: int, cmd: list[str]) -> list[str]:
    """Run ``n`` copies of ``cmd`` concurrently (``bench/fanout.py``)."""
    return [PY, "-m", "bench.fanout", str(n), "--", *cmd]


def capture_cmd(dest: Path, cmd: list[str]) -> list[str]:
    """``heron-capture -o dest -- cmd`` (default settings)."""
    return [*heron_capture_cmd(), "-o", str(dest), "--", *cmd]


def real_capture(kind: str, quick: bool, *, refresh: bool = False) -> Path:
    """A real capture of the bench agent (``single`` or ``multi16``), cached in bench/out/corpus."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    d = out_dir("corpus")
    dest = d / f"{kind}{'-quick' if quick else ''}.heron"
    if dest.exists() and not refresh and dest.stat().st_mtime >= _writer_mtime():
        return dest
    require_bpf()
    why = agent_available()
    if why:
        raise BenchSkip(f"skipped: {why}")
    from heron.standin import StandIn

    calls = (4 if kind == "multi16" else 8) if quick else (40 if kind == "multi16" else 200)
    with StandIn(log_path=str(d / f"{kind}-standin.jsonl"), latency_ms=0) as s:
        agent = agent_cmd(s.https_url, str(s.ca_file), calls)
        target = fanout_cmd(16, agent) if kind == "multi16" else agent
        tmp = fresh(dest.with_suffix(".tmp.heron"))
        run_measured(capture_cmd(tmp, target), env=_env(), timeout=900)
    tmp.replace(dest)
    return dest


def _writer_mtime() -> float:
    """Newest change to the code that makes captures (a cached capture older than it is stale)."""
    newest = 0.0
    for sub in ("heron/capture", "heron/format"):
        for p in (ROOT / sub).rglob("*"):
            if p.suffix in (".py", ".c", ".h"):
                newest = max(newest, p.stat().st_mtime)
    return newest


def copy_fields(rec: dict[str, Any], *, pid_shift: int, conn_shift: int) -> dict[str, Any]:
    """A record's fields (without k/s/t) with process and connection ids shifted."""
    out = {k: v for k, v in rec.items() if k not in ("k", "s", "t")}
    for key in ("pid", "ppid", "target_pid"):
        if isinstance(out.get(key), int) and out[key] > 0:
            out[key] += pid_shift
    if isinstance(out.get("conn"), int):
        out["conn"] += conn_shift
    return out


def grow(src: Path, dest: Path, target_plain: int) -> dict[str, int]:
    """Replay ``src``'s records into ``dest`` until its DATA plaintext is ≥ ``target_plain`` bytes.

    Returns counts: copies, records, plaintext bytes, file bytes.
    """
    from heron.format import Reader, RecordKind, Writer

    recs = list(Reader(src))
    if not recs:
        raise RuntimeError(f"{src} holds no records")
    data_k = int(RecordKind.DATA)
    once = {int(RecordKind.CAPTURE_START), int(RecordKind.CAPTURE_STOP), int(RecordKind.STATS)}
    plain_per_copy = sum(r["len"] for r in recs if r["k"] == data_k)
    if plain_per_copy == 0:
        raise RuntimeError(f"{src} holds no DATA plaintext to replay")
    t0, t1 = recs[0]["t"], max(r["t"] for r in recs)
    span = t1 - t0 + 1_000_000
    max_conn = max((r.get("conn") or 0) for r in recs) + 1
    max_pid = max(max((r.get("pid") or 0) for r in recs), max((r.get("ppid") or 0) for r in recs))
    pid_step = 10 ** len(str(max_pid))
    copies = -(-target_plain // plain_per_copy)
    n = 0
    with Writer(fresh(dest)) as w:
        for i in range(copies):
            tshift = i * span
            for r in recs:
                k = r["k"]
                if k in once and not (
                    (i == 0 and k == RecordKind.CAPTURE_START)
                    or (i == copies - 1 and k != RecordKind.CAPTURE_START)
                ):
                    continue
                f = copy_fields(r, pid_shift=i * pid_step, conn_shift=i * max_conn)
                ts = r["t"] + tshift
                if k == data_k:
                    w.data(
                        ts,
                        conn=f["conn"],
                        pid=f["pid"],
                        dir=f["dir"],
                        offset=f["offset"],
                        length=f["len"],
                        data=f["data"],
                        tid=f.get("tid"),
                        trunc=bool(f.get("trunc")),
                        redacted=f.get("redacted"),
                        fn=f.get("fn"),
                    )
                else:
                    if k == RecordKind.CLOCK_SYNC and "realtime_ns" in f:
                        f["realtime_ns"] += tshift
                    w.append(k, ts, **f)
                n += 1
            w.tick()
    return {
        "copies": copies,
        "records": n,
        "plaintext": copies * plain_per_copy,
        "file_bytes": dest.stat().st_size,
    }


def large_capture(seed: Path, target_plain: int, name: str) -> tuple[Path, dict[str, int]]:
    """A grown capture from ``seed``, cached in bench/out/corpus by name and size."""
    d = out_dir("corpus")
    dest = d / f"{name}-{target_plain >> 20}M.heron"
    stamp = dest.with_suffix(".stamp")
    key = f"{seed.stat().st_size}:{seed.stat().st_mtime_ns}:{target_plain}"
    if dest.exists() and stamp.exists() and stamp.read_text().split("\n")[0] == key:
        import json

        return dest, json.loads(stamp.read_text().split("\n", 1)[1])
    t = time.monotonic()
    info = grow(seed, dest, target_plain)
    info["build_s"] = int(time.monotonic() - t)
    import json

    stamp.write_text(key + "\n" + json.dumps(info))
    return dest, info


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.captures {single,multi16} [--quick]`` or ``grow SRC DEST MB``."""
    ap = argparse.ArgumentParser(prog="python -m bench.captures")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for k in KINDS:
        p = sub.add_parser(k, help=f"record the {k} real capture (root)")
        p.add_argument("--quick", action="store_true")
    g = sub.add_parser("grow", help="replay SRC into DEST until MB of plaintext")
    g.add_argument("src", type=Path)
    g.add_argument("dest", type=Path)
    g.add_argument("mb", type=int)
    a = ap.parse_args(argv)
    if a.cmd == "grow":
        print(grow(a.src, a.dest, a.mb << 20))
    else:
        print(real_capture(a.cmd, a.quick, refresh=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
