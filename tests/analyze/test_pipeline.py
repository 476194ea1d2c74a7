"""The two-process pass (heron.analyze.pipeline) gives exactly the one-process tables.

Every real fixture, damaged copies of one, a child that crashes or is killed
(the pass falls back to one process), and the jobs policy.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import heron
from heron.analyze import pipeline
from heron.analyze.build import Analysis
from heron.analyze.capture import Capture
from heron.format import Reader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAPTURES = sorted(FIXTURES.glob("*.heron"))
TABLES = ("calls", "tools", "loops", "processes", "connections", "exchanges", "events")

needs_split = pytest.mark.skipif(not pipeline.available(), reason="needs Linux fork and 2 CPUs")


def tables(cap: Capture) -> dict[str, Any]:
    out: dict[str, Any] = {t: cap.table(t) for t in TABLES}
    out["info"] = {k: v for k, v in cap.info.items()}
    out["warnings"] = list(cap.warnings)
    return out


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for name in TABLES:
        assert a[name].schema == b[name].schema, name
        assert a[name].equals(b[name], null_equal=True), name
    assert a["info"] == b["info"]
    assert a["warnings"] == b["warnings"]


@needs_split
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_split_pass_gives_the_same_tables(path: Path) -> None:
    one = Capture(path, jobs=1)
    two = Capture(path, jobs=2)
    assert_same(tables(one), tables(two))
    assert two.split_failure is None
    assert two.calls.height == one.calls.height


def _damaged(tmp_path: Path, how: str) -> Path:
    src = FIXTURES / "demo.heron"
    dst = tmp_path / f"demo-{how}.heron"
    data = bytearray(src.read_bytes())
    if how == "truncated":
        data = data[: len(data) * 2 // 3]
    else:  # a flipped bit in the middle of the file: a chunk fails its CRC
        data[len(data) // 2] ^= 0x10
    dst.write_bytes(bytes(data))
    return dst


@needs_split
@pytest.mark.parametrize("how", ["truncated", "bitflip"])
def test_split_pass_on_a_damaged_file_matches_and_warns(tmp_path: Path, how: str) -> None:
    path = _damaged(tmp_path, how)
    one, two = tables(Capture(path, jobs=1)), tables(Capture(path, jobs=2))
    assert_same(one, two)
    assert two["warnings"], "the damage must be reported"


@needs_split
def test_a_crash_in_the_child_falls_back_to_one_process(monkeypatch: Any) -> None:
    from heron.analyze import reassembly

    parent = os.getpid()
    real = reassembly.iter_exchanges

    def crashing(records: Any, **kw: Any) -> Any:
        for i, ex in enumerate(real(records, **kw)):
            if os.getpid() != parent and i == 2:
                raise RuntimeError("boom in the child")
            yield ex

    monkeypatch.setattr(reassembly, "iter_exchanges", crashing)
    path = FIXTURES / "demo.heron"
    cap = Capture(path, jobs=2)
    assert cap.calls.height == 8
    assert cap.split_failure is not None and "boom in the child" in cap.split_failure
    monkeypatch.setattr(reassembly, "iter_exchanges", real)
    assert_same(tables(cap), tables(Capture(path, jobs=1)))


@needs_split
def test_a_killed_child_is_reported_not_hung() -> None:
    def die() -> Any:
        os.kill(os.getpid(), signal.SIGKILL)

    with pytest.raises(pipeline.SplitFailed, match="stopped without finishing"):
        pipeline.run_split(die, Analysis("x"))


@needs_split
def test_an_error_in_this_process_stops_and_reaps_the_child(monkeypatch: Any) -> None:
    a = Analysis("x")

    def bad(ex: Any) -> None:
        raise ValueError("parent side failure")

    monkeypatch.setattr(a, "add_exchange", bad)
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    with pytest.raises(ValueError, match="parent side failure"):
        pipeline.run_split(lambda: Reader(FIXTURES / "demo.heron"), a)
    assert forked
    with pytest.raises(ChildProcessError):  # already reaped: no zombie left behind
        os.waitpid(forked[0], os.WNOHANG)


def test_jobs_policy(monkeypatch: Any, tmp_path: Path) -> None:
    path = FIXTURES / "demo.heron"
    monkeypatch.delenv("HERON_JOBS", raising=False)
    assert Capture(path, jobs=1)._split() is False
    assert Capture(path, jobs=2)._split() is pipeline.available()
    assert Capture(path)._split() is False  # a small capture stays in one process
    with path.open("rb") as f:
        assert Capture(f, jobs=2)._split() is False  # file objects: one process
    monkeypatch.setenv("HERON_JOBS", "2")
    assert Capture(path)._split() is pipeline.available()
    assert Capture(path, jobs=1)._split() is False  # the argument wins over the environment
    monkeypatch.setenv("HERON_JOBS", "1")
    assert Capture(path)._split() is False


def test_plaintext_estimate_uses_the_index_or_the_file_size(tmp_path: Path) -> None:
    from heron.analyze.pipeline import plaintext_estimate as _plaintext_estimate

    path = FIXTURES / "demo.heron"
    n = sum(len(r["data"]) for r in Reader(path) if "data" in r)
    assert _plaintext_estimate(str(path)) == n
    cut = tmp_path / "cut.heron"  # no footer: a low multiple of the size
    shutil.copy(path, cut)
    with cut.open("r+b") as f:
        f.truncate(os.path.getsize(path) - 200)
    assert _plaintext_estimate(str(cut)) == os.path.getsize(cut) * 16


@needs_split
def test_open_and_read_functions_take_jobs() -> None:
    a = heron.open(FIXTURES / "variant_b.heron", jobs=2).loops
    b = heron.open(FIXTURES / "variant_b.heron", jobs=1).loops
    assert a.equals(b)
    assert isinstance(a, pl.DataFrame)


def test_sender_queues_while_the_reader_is_behind_and_delivers_everything_in_order() -> None:
    import threading
    import time

    r, w = os.pipe()
    got = bytearray()

    def slow_reader() -> None:
        with open(r, "rb", buffering=0) as f:
            while True:
                time.sleep(0.001)  # slower than the writer: the pipe fills up
                b = f.read(64 << 10)
                if not b:
                    return
                got.extend(b)

    t = threading.Thread(target=slow_reader)
    t.start()
    parts = [bytes([i % 251]) * (37 << 10) + i.to_bytes(4, "little") for i in range(200)]
    out = pipeline._Sender(w, limit=256 << 10)
    most = 0
    for i in range(0, len(parts), 3):
        out.send(parts[i : i + 3])
        most = max(most, out.queued)
    assert most > 0  # some batches had to wait in the queue
    assert most <= (256 << 10) + 3 * ((37 << 10) + 4)  # never past the limit by more than a batch
    out.close()
    assert out.queued == 0
    os.close(w)
    t.join(timeout=60)
    assert not t.is_alive()
    assert bytes(got) == b"".join(parts)


@needs_split
def test_the_cli_starts_the_reading_process_before_it_loads_the_tables(monkeypatch: Any) -> None:
    import json

    from click.testing import CliRunner

    from heron.cli import main

    started: list[pipeline.Child] = []
    real_start = pipeline.start

    def spy(open_reader: Any) -> pipeline.Child:
        started.append(real_start(open_reader))
        return started[-1]

    monkeypatch.setattr(pipeline, "start", spy)
    path = str(FIXTURES / "variant_b.heron")
    out = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("HERON_JOBS", jobs)
        r = CliRunner().invoke(main, ["calls", path, "--format", "json"])
        assert r.exit_code == 0, r.output
        out[jobs] = json.loads(r.stdout)
    assert len(started) == 1  # only with HERON_JOBS=2, and it was used (reaped)
    assert started[0].pid is None
    assert out["1"] == out["2"] and out["2"]


@needs_split
def test_a_started_child_is_cancelled_when_the_file_cannot_be_opened(
    monkeypatch: Any, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from heron.cli import main

    bad = tmp_path / "bad.heron"
    bad.write_bytes(b"not a heron file at all" * 100)
    monkeypatch.setenv("HERON_JOBS", "2")
    r = CliRunner().invoke(main, ["calls", str(bad)])
    assert r.exit_code == 2
    assert "bad.heron" in r.stderr
    with pytest.raises(ChildProcessError):  # nothing left running or unreaped
        os.waitpid(-1, os.WNOHANG)


@needs_split
def test_an_adopted_child_serves_the_next_pass_and_a_second_one_replaces_it() -> None:
    path = FIXTURES / "openai_tools.heron"
    cap = Capture(path, jobs=1)  # its own policy says one process ...
    first = pipeline.start(lambda: Reader(path))
    cap._adopt(first)
    second = pipeline.start(lambda: Reader(path))
    cap._adopt(second)
    assert first.pid is None  # cancelled and reaped
    got = tables(cap)  # ... but the adopted child serves the pass
    assert second.pid is None and cap.split_failure is None
    assert_same(got, tables(Capture(path, jobs=1)))


@needs_split
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_tiny_shared_slots_wrap_wait_and_overflow_into_the_pipe(
    monkeypatch: Any, path: Path
) -> None:
    # two 4 KiB slots and 2 KiB batches: the child waits for free slots, reuses
    # them in turn, and sends any batch bigger than a slot through the pipe
    monkeypatch.setattr(pipeline, "_SLOTS", 2)
    monkeypatch.setattr(pipeline, "_SLOT", 4 << 10)
    monkeypatch.setattr(pipeline, "_MAX_BLOB", 2 << 10)
    two = Capture(path, jobs=2)
    assert_same(tables(Capture(path, jobs=1)), tables(two))
    assert two.split_failure is None


def test_without_shared_memory_bodies_go_through_the_pipe(monkeypatch: Any) -> None:
    monkeypatch.setattr(pipeline._Shared, "make", classmethod(lambda cls: None))
    path = FIXTURES / "demo.heron"
    two = Capture(path, jobs=2)
    if pipeline.available():
        assert_same(tables(Capture(path, jobs=1)), tables(two))
        assert two.split_failure is None


@needs_split
def test_a_slow_parent_makes_the_child_wait_for_free_slots(monkeypatch: Any) -> None:
    import time

    monkeypatch.setattr(pipeline, "_SLOTS", 2)
    monkeypatch.setattr(pipeline, "_MAX_BLOB", 256)  # a batch per exchange or two
    real_add = Analysis.add_exchange

    def slow_add(self: Analysis, ex: Any) -> None:
        time.sleep(0.003)  # the child fills both slots and waits for the semaphore
        real_add(self, ex)

    path = FIXTURES / "variant_b.heron"
    want = tables(Capture(path, jobs=1))
    monkeypatch.setattr(Analysis, "add_exchange", slow_add)
    two = Capture(path, jobs=2)
    assert_same(want, tables(two))
    assert two.split_failure is None


@needs_split
def test_metadata_marshal_cannot_take_goes_pickled(monkeypatch: Any) -> None:
    import types

    def refuse(obj: Any) -> bytes:
        raise ValueError("unmarshallable object")

    # the child is forked after this, so its marshal refuses every batch
    monkeypatch.setattr(pipeline, "marshal", types.SimpleNamespace(dumps=refuse, loads=None))
    path = FIXTURES / "variant_b.heron"
    two = Capture(path, jobs=2)
    got = tables(two)
    monkeypatch.undo()
    assert_same(tables(Capture(path, jobs=1)), got)
    assert two.split_failure is None


def _odd_records() -> list[dict[str, Any]]:
    """DATA records with odd fields among ordinary ones, in an order that matters."""
    req = b"POST /v1/chat/completions HTTP/1.1\r\nHost: api.test\r\nContent-Length: 2\r\n\r\n{}"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    recs: list[dict[str, Any]] = [
        {"k": 3, "s": 0, "t": 5, "pid": 7, "comm": "agent"},
        {"k": 9, "s": 1, "t": 6, "conn": 4, "reason": "close"},  # closes a conn never opened
        {
            "k": 8,
            "s": 2,
            "t": 9,
            "conn": 1,
            "pid": 7,
            "dir": 0,
            "offset": 0,
            "len": len(req),
            "data": req,
        },
        {
            "k": 8,
            "s": 3,
            "t": "late",
            "conn": 1,
            "pid": 7,
            "dir": 1,
            "offset": 0,
            "len": len(resp),
            "data": resp,
        },
        {
            "k": 8,
            "s": 4,
            "t": 3,
            "conn": "x",
            "pid": 7,
            "dir": 0,
            "offset": 0,
            "len": 1,
            "data": b"z",
        },
        {
            "k": 8,
            "s": 5,
            "t": 12,
            "conn": 4,
            "pid": "p",
            "dir": None,
            "offset": None,
            "len": 3,
            "data": b"abc",
        },
        {"k": 7, "s": 6, "t": 13, "conn": 2, "pid": 8, "sni": "api.test"},
        {
            "k": 8,
            "s": 7,
            "t": 14,
            "conn": 2,
            "pid": 8,
            "dir": 0,
            "offset": 0,
            "len": len(req),
            "data": req,
        },
        {
            "k": 8,
            "s": 8,
            "t": 2,
            "conn": 2,
            "pid": 8,
            "dir": 1,
            "offset": 0,
            "len": len(resp),
            "data": resp,
        },
        {
            "k": 8,
            "s": 9,
            "t": 15,
            "conn": 5,
            "pid": 9,
            "dir": False,
            "offset": 7,
            "len": 1,
            "data": b"q",
        },
    ]
    return recs


@needs_split
def test_summed_data_observations_equal_record_by_record_ones() -> None:
    from dataclasses import asdict

    from heron.analyze.reassembly import iter_exchanges

    one = Analysis("odd")
    for ex in iter_exchanges(one.tap(_odd_records())):
        one.add_exchange(ex)
    two = Analysis("odd")
    pipeline.run_split(_odd_records, two)
    for a in (one, two):
        assert a.n_calls == 2
    assert (two.n_records, two.n_data, two.first_ns, two.last_ns) == (
        one.n_records,
        one.n_data,
        one.first_ns,
        one.last_ns,
    )
    assert {k: asdict(c) for k, c in two.conns.items()} == {
        k: asdict(c) for k, c in one.conns.items()
    }
    assert {k: asdict(p) for k, p in two.procs.items()} == {
        k: asdict(p) for k, p in one.procs.items()
    }
    t1, t2 = one.finish(), two.finish()
    for name in ("calls", "processes", "connections", "events"):
        assert getattr(t1, name).equals(getattr(t2, name), null_equal=True), name
    assert t1.info == t2.info


@needs_split
def test_a_child_that_stops_sending_is_given_up_on_not_waited_for(monkeypatch: Any) -> None:
    import time

    def stuck(open_reader: Any, fd: int, shared: Any = None) -> None:
        time.sleep(60)  # alive, silent: as if deadlocked

    monkeypatch.setattr(pipeline, "_child", stuck)
    monkeypatch.setattr(pipeline, "STALL_S", 0.5)
    path = FIXTURES / "demo.heron"
    t0 = time.monotonic()
    cap = Capture(path, jobs=2)
    got = tables(cap)
    assert time.monotonic() - t0 < 30
    assert cap.split_failure == "the reading process sent nothing for 0.5 s"
    monkeypatch.undo()
    assert_same(tables(Capture(path, jobs=1)), got)


@pytest.mark.parametrize("jobs", [1, 2])
def test_progress_is_reported_as_the_pass_goes_and_when_it_ends(
    monkeypatch: Any, jobs: int
) -> None:
    from heron.analyze import capture

    monkeypatch.setattr(capture, "PROGRESS_S", 0.0)
    if jobs == 2 and not pipeline.available():
        pytest.skip("needs Linux fork and 2 CPUs")
    cap = Capture(FIXTURES / "variant_b.heron", jobs=jobs)
    seen: list[tuple[int, int | None, int, bool]] = []
    cap.progress = lambda *a: seen.append(a)
    n = cap.calls.height
    assert len(seen) >= 2 and seen[-1][3] is True and not any(d for *_, d in seen[:-1])
    records = [r for r, *_ in seen]
    assert records == sorted(records) and records[-1] == cap.info["records"]
    assert seen[-1][1] == cap.info["records"]  # the footer index's count
    assert seen[-1][2] == n


def test_the_cli_draws_progress_only_on_a_terminal_and_erases_it() -> None:
    import io

    from heron.cli.tables import Progress

    out = io.StringIO()
    p = Progress("x.heron", stream=out, delay=3600)  # a quick pass: nothing shows
    p(10, 100, 1, False)
    p(100, 100, 2, True)
    assert out.getvalue() == ""
    p = Progress("x.heron", stream=out, delay=0)
    p(10, None, 1, False)  # no footer index: counts only
    assert "10 records, 1 calls" in out.getvalue()
    p(100, None, 2, True)
    assert out.getvalue().endswith("\r\x1b[K")
