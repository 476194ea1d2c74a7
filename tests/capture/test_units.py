"""Unit tests of the capture side that need no privilege: event decoding,
call reassembly, ELF exports, library discovery, option parsing, the CLI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from heron.capture import events as ev
from heron.capture.assemble import CallAssembler
from heron.capture.cli import capture, parse_size
from heron.capture.elf import exported_symbols
from heron.capture.libs import LibraryFinder
from heron.capture.probes import MODULES, module_for_exports, module_for_file
from heron.capture.procfs import container_id, process_info
from heron.capture.target import run_as_from_env

BPF = Path(__file__).resolve().parents[2] / "heron/capture/bpf"


def _defines(name: str) -> dict[str, int]:
    text = (BPF / name).read_text()
    return {m[1]: int(m[2]) for m in re.finditer(r"^#define (\w+) (\d+)\b", text, re.M)}


def test_event_constants_match_heron_h() -> None:
    d = _defines("heron.h")
    for name in (
        "EV_DATA",
        "EV_CLOSE",
        "EV_EXEC",
        "EV_FORK",
        "EV_EXIT",
        "EV_CONNECT",
        "EV_ACCEPT",
        "EV_SNI",
        "EV_NOT_PLAIN",
        "EV_LOCAL",
    ):
        assert getattr(ev, name) == d[name], name
    assert d["DF_LAST"] == ev.DF_LAST and d["DF_TRUNC"] == ev.DF_TRUNC
    fns = sorted((v, k) for k, v in d.items() if k.startswith("FN_"))
    assert [v for v, _ in fns] == list(range(len(ev.FN_NAMES)))
    lost = sorted((v, k) for k, v in d.items() if k.startswith("LOST_"))
    assert [k.removeprefix("LOST_").lower() for _, k in lost] == list(ev.LOST_NAMES)
    assert d["ARGV_MAX"] == 1024


def test_struct_sizes() -> None:
    # struct data_meta: 24-byte header + 4*u64 + 2*u32 + s32 + 4*u8 = 72
    assert ev.DATA_META.size == 72
    assert ev.EXEC.size == 24 + 16 + 16 + 16 + 256
    assert ev.SOCK.size == 24 + 4 + 2 + 2 + 16 + 8 + 16
    assert ev.CLOSE.size == 48 and ev.FORK.size == 48 and ev.EXIT.size == 48


def _data(
    conn: int, d: int, call_off: int, call_len: int, chunk_off: int, data: bytes, flags: int
) -> bytes:
    meta = ev.DATA_META.pack(
        conn, 0xABC, call_off, call_len, chunk_off, len(data), 5, d, 3, 0, flags
    )
    return ev.HDR.pack(ev.EV_DATA, 10, 11, 0, 1234) + meta[24:] + data


def test_decode_every_kind() -> None:
    c = ev.decode(_data(7, 1, 100, 3, 0, b"abc", ev.DF_LAST))
    assert isinstance(c, ev.DataChunk)
    assert (c.conn, c.dir, c.call_off, c.call_len, c.data, c.fn, c.ssl) == (
        7,
        1,
        100,
        3,
        b"abc",
        3,
        0xABC,
    )
    argv = b"python\0-c\0pass\0"
    raw = (
        ev.HDR.pack(ev.EV_EXEC, 5, 5, 1, 9)
        + ev.EXEC.pack(1, 1000, 1000, len(argv), 77, 88, b"python", b"/usr/bin/python")[24:]
        + argv.ljust(1024, b"\0")
    )
    e = ev.decode(raw)
    assert isinstance(e, ev.Exec)
    assert (
        e.argv == ["python", "-c", "pass"]
        and e.argv_truncated
        and e.ppid == 1
        and e.cgroup_id == 88
    )
    x = ev.decode(ev.HDR.pack(ev.EV_EXIT, 5, 5, 1, 9) + ev.EXIT.pack(9, 0, b"sh")[24:])
    assert isinstance(x, ev.Exit) and x.signal == 9 and x.exit_code is None
    x = ev.decode(ev.HDR.pack(ev.EV_EXIT, 5, 5, 0, 9) + ev.EXIT.pack(0, 0, b"sh")[24:])
    assert isinstance(x, ev.Exit) and x.signal is None and x.exit_code is None  # ending unknown
    addr = bytes([127, 0, 0, 1]).ljust(16, b"\0")
    s = ev.decode(
        ev.HDR.pack(ev.EV_CONNECT, 5, 6, 0, 9) + ev.SOCK.pack(4, 2, 443, addr, 0, b"\0" * 16)[24:]
    )
    assert isinstance(s, ev.Sock) and (s.role, s.addr, s.port, s.fd) == (
        "client",
        "127.0.0.1",
        443,
        4,
    )
    assert (s.local_port, s.local_addr) == (0, "")  # not established yet: EV_LOCAL follows
    # established before connect() returned (loopback): the event carries the local end
    laddr = bytes([127, 0, 0, 1]).ljust(16, b"\0")
    s = ev.decode(
        ev.HDR.pack(ev.EV_CONNECT, 5, 6, 53962, 9) + ev.SOCK.pack(4, 2, 443, addr, 7, laddr)[24:]
    )
    assert isinstance(s, ev.Sock) and (s.local_addr, s.local_port) == ("127.0.0.1", 53962)
    v6 = b"\0" * 10 + b"\xff\xff" + bytes([10, 0, 0, 2])
    s = ev.decode(
        ev.HDR.pack(ev.EV_ACCEPT, 5, 6, 8080, 9) + ev.SOCK.pack(9, 10, 5555, v6, 3, b"\0" * 16)[24:]
    )
    assert isinstance(s, ev.Sock) and (s.role, s.addr, s.local_port, s.conn) == (
        "server",
        "10.0.0.2",
        8080,
        3,
    )
    n = ev.decode(ev.HDR.pack(ev.EV_SNI, 5, 6, 0, 9) + ev.SNI.pack(0x10, b"api.openai.com")[24:])
    assert isinstance(n, ev.Sni) and n.name == "api.openai.com"
    cl = ev.decode(ev.HDR.pack(ev.EV_NOT_PLAIN, 5, 6, 0, 9) + ev.CLOSE.pack(4, 0, 3, 0)[24:])
    assert isinstance(cl, ev.Close) and cl.not_plain


def test_decode_rejects_damage() -> None:
    with pytest.raises(ev.EventDecodeError):
        ev.decode(b"\x01\x00")
    with pytest.raises(ev.EventDecodeError):
        ev.decode(_data(1, 0, 0, 10, 0, b"abc", 0)[:-2])  # says 3 bytes, carries 1
    with pytest.raises(ev.EventDecodeError):
        ev.decode(ev.HDR.pack(99, 1, 1, 0, 0))


def _chunks(
    payload: bytes, size: int, call_off: int = 0, conn: int = 1, d: int = 0, cap: int | None = None
) -> list[ev.DataChunk]:
    total = len(payload) if cap is None else min(cap, len(payload))
    out = []
    for off in range(0, total, size):
        piece = payload[off : min(off + size, total)]
        flags = ev.DF_LAST if off + len(piece) >= total else 0
        if cap is not None and len(payload) > cap:
            flags |= ev.DF_TRUNC
        out.append(ev.decode(_data(conn, d, call_off, len(payload), off, piece, flags)))
    return out  # type: ignore[return-value]


@pytest.mark.parametrize("size", [1, 7, 4096, 1 << 20])
def test_assembler_joins_a_call_whatever_the_chunking(size: int) -> None:
    payload = bytes(range(256)) * 40
    a = CallAssembler()
    got = [p for c in _chunks(payload, size, call_off=500) for p in a.feed(c)]
    assert (
        len(got) == 1
        and got[0].data == payload
        and got[0].offset == 500
        and got[0].length == len(payload)
    )
    assert not got[0].trunc and len(a) == 0


def test_assembler_interleaved_calls_stay_apart() -> None:
    a = CallAssembler()
    x, y = _chunks(b"x" * 100, 30, conn=1), _chunks(b"y" * 100, 30, conn=2)
    got = []
    for cx, cy in zip(x, y, strict=True):
        got += a.feed(cx) + a.feed(cy)
    assert sorted((p.conn, p.data) for p in got) == [(1, b"x" * 100), (2, b"y" * 100)]


def test_assembler_lost_chunk_is_a_gap_not_a_splice() -> None:
    a = CallAssembler()
    cs = _chunks(bytes(range(100)), 10, call_off=1000)
    got = [p for i, c in enumerate(cs) if i != 4 for p in a.feed(c)]
    assert [(p.offset, len(p.data)) for p in got] == [(1000, 40), (1050, 50)]
    assert got[0].data == bytes(range(40)) and got[1].data == bytes(range(50, 100))
    # a call whose last chunk never came is given up by flush()
    a.feed(_chunks(b"z" * 50, 10, call_off=0, conn=9)[0])
    (p,) = a.flush()
    assert (p.conn, p.data, p.length) == (9, b"z" * 10, 10)


def test_assembler_truncated_call() -> None:
    a = CallAssembler()
    got = [p for c in _chunks(b"q" * 100, 16, cap=64) for p in a.feed(c)]
    assert len(got) == 1 and got[0].length == 100 and len(got[0].data) == 64 and got[0].trunc


def test_elf_exports_and_probe_modules() -> None:
    assert exported_symbols(sys.executable, {"Py_Initialize"}) <= {"Py_Initialize"}
    assert exported_symbols(__file__) == set()
    assert module_for_file("/x/libssl.so.3").NAME == "openssl"
    assert module_for_file("libgnutls.so.30.34.3").NAME == "gnutls"
    assert module_for_file("libssl3.so") is None  # NSS, not OpenSSL
    assert module_for_exports({"SSL_write", "SSL_read", "x"}).NAME == "openssl"
    for m in MODULES:
        text = (BPF / f"{m.NAME}.c").read_text()
        for h in m.hooks():
            for prog in (h.entry, h.ret):
                assert prog is None or f"HERON_UPROBE({prog})" in text, prog
        assert f"WITH_{m.NAME.upper()}" in (BPF / "heron.c").read_text()


def test_library_finder_reports_each_inode_once() -> None:
    f = LibraryFinder()
    first = f.system_libraries()
    assert f.system_libraries() == []
    assert len({(c.dev, c.ino) for c in first}) == len(first)
    if os.path.exists("/lib/x86_64-linux-gnu/libssl.so.3"):
        assert any(c.module.NAME == "openssl" for c in first)


def test_helpers() -> None:
    assert (
        parse_size("8M") == 8 << 20 and parse_size("64KiB") == 65536 and parse_size("1.5k") == 1536
    )
    assert container_id("/kubepods/burstable/pod1/" + "f" * 64) == "f" * 64
    assert run_as_from_env({"SUDO_UID": "1000"}) == (1000, 1000)
    assert run_as_from_env({"SUDO_UID": "x"}) is None
    info = process_info(os.getpid())
    assert info["cmdline"] and info["exe"]


def test_cli_help_and_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = CliRunner()
    res = r.invoke(capture, ["--help"])
    assert res.exit_code == 0 and "sudo heron-capture -o run.heron -- python agent.py" in res.output
    res = r.invoke(capture, [])
    assert res.exit_code == 2 and "-o FILE is required" in res.output
    existing = tmp_path / "x.heron"
    existing.write_bytes(b"")
    res = r.invoke(capture, ["-o", str(existing), "--", "true"])
    assert res.exit_code == 1 and "--force" in res.output
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    res = r.invoke(capture, ["-o", str(tmp_path / "y.heron"), "--", "true"])
    assert res.exit_code == 1 and "needs root" in res.output and "Traceback" not in res.output
    res = r.invoke(capture, ["-o", "-", "--plain-ports", "80,x"])
    assert res.exit_code == 2


def test_check_reports_missing_privilege_with_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from heron.capture import check

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(check, "_caps", lambda: set())
    lines: list[str] = []
    assert check.run_check(echo=lines.append) == 1
    text = "\n".join(lines)
    assert text.splitlines()[0].startswith("FAIL  privilege") and "fix: run with sudo" in text
    assert text.splitlines()[-1] == "capture: CANNOT work on this host"
    assert "compiled" not in text  # nothing is compiled when a prerequisite fails


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)
def test_root_without_bpf_capabilities_gets_one_clear_line(tmp_path: Path) -> None:
    """Root with an emptied capability set (a container, capsh) is told why, not EPERM later."""
    exe = Path(sys.executable).parent / "heron-capture"
    out = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-all",
            str(exe),
            "-o",
            str(tmp_path / "x.heron"),
            "--",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "without the capabilities eBPF needs" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x.heron").exists()
