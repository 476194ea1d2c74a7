"""Real eBPF capture of real clients, through ``heron-capture -o F -- CMD``.

Every assertion compares what the capture recorded with what the stand-in
server logged it received and sent (exact body bytes).  One capture runs all
the clients one after the other (one BPF compile for the lot); the tests
then pick each client out of the file by its pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tests.capture._http import H2_PREFACE, h1_messages, h2_data, streams
from tests.capture.conftest import (
    ROOT,
    capture_cmd,
    clean_env,
    free_port,
    read_records,
    run_capture,
)

pytestmark = [pytest.mark.bpf, pytest.mark.slow]

AGENTS = [
    "openai_sync",
    "openai_async",
    "anthropic_stream",
    "httpx_h2",
    "node_fetch",
    "curl",
    "ollama_plain",
    "node_plain",
    "threads",
    "secret",
    "big_request",
    "big_request_h2",
]
SECRET = b"sk-heron-SECRET-7f3a9c1e5b2d4f60a8"


@dataclass
class Multi:
    records: list[dict[str, Any]]
    report: Any
    agents: dict[str, dict[str, Any]]
    entries: list[Any]
    run: subprocess.CompletedProcess[str]
    path: Path


@pytest.fixture(scope="module")
def multi(standin: Any, tmp_path_factory: pytest.TempPathFactory) -> Multi:
    out = tmp_path_factory.mktemp("multi") / "all.heron"
    before = len(standin.entries())
    drive = [
        sys.executable, "-m", "tests.capture._drive",
        "--https", standin.https_url, "--http", standin.http_url, "--ca", standin.ca_file,
        *AGENTS,
    ]  # fmt: skip
    env = clean_env(**standin.client_env())
    run = run_capture(out, drive, "--plain-ports", str(standin.plain_port), env=env)
    agents = {}
    for line in run.stdout.splitlines():
        if line.startswith("{"):
            a = json.loads(line)
            agents[a["name"]] = a
    assert run.returncode == 0, (
        f"capture or an agent failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    )
    records, report = read_records(out)
    time.sleep(0.2)
    return Multi(records, report, agents, standin.entries()[before:], run, out)


def _family(records: list[dict[str, Any]], root: int) -> set[int]:
    pids = {root}
    for r in records:  # FORK records come in time order
        if r["k"] == 4 and r["ppid"] in pids:
            pids.add(r["pid"])
    return pids


def _window(records: list[dict[str, Any]], pid: int) -> tuple[int, int]:
    start = min(r["t"] for r in records if r["k"] == 5 and r["pid"] == pid)
    end = max(r["t"] for r in records if r["k"] == 6 and r["pid"] == pid)
    return start, end


def _check_agent(m: Multi, name: str) -> dict[str, Any]:
    """The bodies in the file are exactly the bodies the server logged."""
    a = m.agents[name]
    assert a["status"] == 0, a["out"]
    pids = _family(m.records, a["pid"])
    t0, t1 = _window(m.records, a["pid"])
    entries = [e for e in m.entries if t0 <= e.t_start_ns <= t1]
    assert entries, f"{name}: the server logged nothing in the agent's lifetime"
    opens = {r["conn"]: r for r in m.records if r["k"] == 7 and r["pid"] in pids}
    data = [r for r in m.records if r["k"] == 8 and r["conn"] in opens]
    assert data, f"{name}: no DATA captured"
    # Right pid and connection on every record.
    for r in data:
        assert r["pid"] == opens[r["conn"]]["pid"], (
            f"DATA seq {r['s']} pid differs from its connection's"
        )
    st = streams(data)
    captured = []
    by_port: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
    for conn, dirs in st.items():
        out, inn = dirs.get(0, b""), dirs.get(1, b"")
        if out.startswith(H2_PREFACE):
            req, resp = h2_data(out, client_side=True), h2_data(inn, client_side=False)
            pairs = [
                (req.get(s, b""), resp.get(s, b"")) for s in sorted(set(req) | set(resp)) if s % 2
            ]
        else:
            reqs, resps = h1_messages(out, response=False), h1_messages(inn, response=True)
            # A keep-alive client may write a last request the server never
            # answers (it had closed the idle connection; the client retries
            # elsewhere): that request is real traffic, but has no log entry.
            assert len(reqs) - len(resps) in (0, 1), (
                f"conn {conn}: {len(reqs)} requests, {len(resps)} responses"
            )
            pairs = [(q[1], p[1]) for q, p in zip(reqs, resps, strict=False)]
        port = opens[conn].get("local_port")
        if port:
            by_port[port] += pairs
        captured += pairs
    # Socket known: the exchanges on a client port are exactly the server's
    # for that port (a port can be reused by a later connection, and SSL_free
    # may come long after close, so connections are grouped by port).
    for port, pairs in by_port.items():
        mine = [(e.request_body, e.response_body) for e in entries if e.client_port == port]
        assert sorted(pairs) == sorted(mine), f"{name}: port {port} differs from the server log"
    logged = [(e.request_body, e.response_body) for e in entries]
    assert sorted(captured) == sorted(logged), (
        f"{name}: captured {len(captured)} exchanges, server logged {len(logged)}"
    )
    return {"pids": pids, "opens": opens, "data": data, "entries": entries}


@pytest.mark.parametrize(
    "name",
    [
        "openai_sync",
        "openai_async",
        "anthropic_stream",
        "httpx_h2",
        "node_fetch",
        "curl",
        "ollama_plain",
    ],
)
def test_client_bodies_match_server_log(multi: Multi, name: str) -> None:
    info = _check_agent(multi, name)
    opens = info["opens"].values()
    if name in ("ollama_plain", "node_plain"):
        assert {o["transport"] for o in opens} == {"tcp"}
    else:
        assert {o["transport"] for o in opens} == {"tls"}
    if name in ("httpx_h2", "curl"):  # real HTTP/2 was used
        assert any(multi.records[0] is not None and o.get("remote_port") for o in opens)


def test_capture_run_is_clean(multi: Multi) -> None:
    assert multi.report.closed and not multi.report.losses
    kinds = [r["k"] for r in multi.records]
    assert kinds[0] == 1 and kinds[-1] == 2
    stop = multi.records[-1]
    assert stop["reason"] == "command-exited" and stop["exit_status"] == 0
    stats = [r for r in multi.records if r["k"] == 10]
    assert len(stats) >= 3, "STATS must be written periodically, not only at the end"
    assert sum(stats[-1]["lost"].values()) == 0


def test_threads_stay_separate(multi: Multi) -> None:
    info = _check_agent(multi, "threads")
    tls = [o for o in info["opens"].values()]
    assert len(tls) >= 4
    tids = {r["tid"] for r in info["data"]}
    assert len(tids) >= 4, "each thread's calls must carry its own tid"
    ports = {o.get("local_port") for o in tls}
    assert len(ports) == len(tls), "each thread's connection is its own socket"


def test_big_request_captured_whole(multi: Multi) -> None:
    for name in ("big_request", "big_request_h2"):
        info = _check_agent(multi, name)
        assert max(len(e.request_body) for e in info["entries"]) >= 3 * 1024 * 1024
    big = _check_agent(multi, "big_request")
    assert max(r["len"] for r in big["data"]) >= 3 * 1024 * 1024, "the 3 MiB body is one SSL_write"


def test_secret_never_reaches_disk(multi: Multi) -> None:
    info = _check_agent(multi, "secret")
    protocols = {e.protocol for e in info["entries"]}
    assert protocols == {"1.1", "2"}, protocols
    assert any(r.get("redacted") for r in info["data"])
    for r in multi.records:
        assert SECRET not in msgpack.packb(r, use_bin_type=True), f"secret in record seq {r['s']}"
    assert SECRET not in multi.path.read_bytes()


def test_processes_attributed(multi: Multi) -> None:
    curl = multi.agents["curl"]
    pids = _family(multi.records, curl["pid"])
    execs = [r for r in multi.records if r["k"] == 5 and r["pid"] in pids]
    assert any(r["comm"] == "curl" and r["argv"][0] == "curl" for r in execs)
    procs = {r["pid"]: r for r in multi.records if r["k"] == 3}
    for r in execs:
        p = procs[r["pid"]]
        assert p["cmdline"] and p["uid"] == os.geteuid() and "start_ns" in p
    exits = {r["pid"]: r for r in multi.records if r["k"] == 6}
    assert all(exits[p].get("exit_code") == 0 for p in pids if p in exits)
    # curl's data is attributed to the curl processes, not to the python parent
    curl_pids = {r["pid"] for r in execs if r["comm"] == "curl"}
    data_pids = {r["pid"] for r in multi.records if r["k"] == 8 and r["pid"] in pids}
    assert data_pids and data_pids <= curl_pids


def test_flood_with_tiny_ring_counts_drops(standin: Any, tmp_path: Path) -> None:
    out = tmp_path / "flood.heron"
    flood = [
        sys.executable, "-m", "heron.standin.agents.flood", "--calls", "40", "--size", str(1 << 20),
        "--base-url", standin.https_url, "--ca", standin.ca_file,
    ]  # fmt: skip
    # The burst can end within one STATS interval (1 s); the idle tail makes
    # sure a periodic STATS record is written after the drops and before the
    # final one, whatever the machine's speed.
    cmd = ["/bin/sh", "-c", '"$@" && sleep 2.5', "flood", *flood]
    t0 = time.monotonic()
    run = run_capture(
        out,
        cmd,
        "--ringbuf-size",
        "128K",
        "--flush-interval",
        "0.2",
        env=clean_env(**standin.client_env()),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert time.monotonic() - t0 < 200
    records, _report = read_records(out)
    stats = [r for r in records if r["k"] == 10]
    assert stats[-1]["lost"]["tls_chunks"] > 0, stats[-1]
    assert stats[-1]["lost"]["tls_bytes"] > 0
    assert any(r["lost"]["tls_chunks"] > 0 for r in stats[:-1]), "drops must show before the end"
    # Drops are visible as gaps, never as spliced streams: offsets stay consistent.
    seen: dict[tuple[int, int], int] = defaultdict(int)
    for r in records:
        if r["k"] == 8:
            key = (r["conn"], r["dir"])
            assert r["offset"] >= seen[key]
            seen[key] = r["offset"] + len(r["data"])


def test_sigkill_leaves_readable_file(standin: Any, tmp_path: Path) -> None:
    out = tmp_path / "killed.heron"
    cmd = [
        sys.executable, "-m", "heron.standin.agents.flood", "--calls", "100000", "--size", "512",
        "--base-url", standin.https_url, "--ca", standin.ca_file,
    ]  # fmt: skip
    proc = subprocess.Popen(
        capture_cmd(out, cmd, "--flush-interval", "0.2"),
        env=clean_env(**standin.client_env()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 20000):
            time.sleep(0.1)
        assert out.exists() and out.stat().st_size >= 20000, "capture wrote nothing"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        for c in locals().get("children", []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(c), signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    records, report = read_records(out)
    assert not report.closed
    assert sum(r["k"] == 8 for r in records) > 10
    assert records[0]["k"] == 1


def test_cmd_exit_status_and_user(standin: Any, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    out = tmp_path / "user.heron"
    env = clean_env(SUDO_UID="65534", SUDO_GID="65534")
    run = run_capture(out, ["sh", "-c", "id -u; id -g; exit 7"], env=env)
    assert run.returncode == 7, run.stderr
    assert run.stdout.split() == ["65534", "65534"]
    st = out.stat()
    assert st.st_uid == 65534 and stat.S_IMODE(st.st_mode) == 0o600
    records, _ = read_records(out)
    execs = [r for r in records if r["k"] == 5]
    sh = next(r for r in execs if r["comm"] == "sh")
    assert sh["uid"] == 65534 and sh["argv"] == ["sh", "-c", "id -u; id -g; exit 7"]
    ids = [r for r in execs if r["comm"] == "id"]
    assert len(ids) == 2 and all(r["ppid"] == sh["pid"] and r["argv"][0] == "id" for r in ids)
    exits = {r["pid"]: r for r in records if r["k"] == 6}
    assert exits[sh["pid"]]["exit_code"] == 7
    assert records[-1]["k"] == 2 and records[-1]["exit_status"] == 7
    # refuses to overwrite without --force
    again = run_capture(out, ["true"], env=env)
    assert again.returncode != 0 and "exists" in again.stderr


def test_broken_pipe_stops_recording_but_not_the_agent(bpf: None, tmp_path: Path) -> None:
    marker = tmp_path / "agent-finished"
    tmp_path.chmod(0o777)
    proc = subprocess.Popen(
        capture_cmd(
            "-", ["sh", "-c", f"sleep 2; echo done > {marker}; exit 0"], "--flush-interval", "0.1"
        ),
        env=clean_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.read(8)  # the file magic: capture is running
    proc.stdout.close()  # the reader goes away
    _, err = proc.communicate(timeout=120)
    assert marker.read_text() == "done\n", "the agent must run to completion"
    assert proc.returncode == 3, err.decode()[-2000:]
    assert b"recording stopped" in err


def test_disk_full_leaves_readable_file(standin: Any, tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)]).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        out = mnt / "full.heron"
        # Random bodies: agent traffic compresses ~50x, this does not.
        script = (
            "import base64, json, os, ssl, sys, time, httpx\n"
            "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
            "with httpx.Client(verify=ctx) as c:\n"
            "    for i in range(20):\n"
            "        time.sleep(0.3 if i < 3 else 0)  # small calls first: flushed before the disk fills\n"
            "        text = base64.b64encode(os.urandom(500 if i < 3 else 30000)).decode()\n"
            "        body = {'model': 'm', 'messages': [{'role': 'user', 'content': text}]}\n"
            "        c.post(sys.argv[1] + '/v1/chat/completions', json=body).raise_for_status()\n"
        )
        cmd = [sys.executable, "-c", script, standin.https_url, standin.ca_file]
        run = run_capture(
            out, cmd, "--flush-interval", "0.1", env=clean_env(**standin.client_env())
        )
        assert run.returncode == 3, run.stderr[-2000:]  # the agent succeeded, capture did not
        assert "recording stopped" in run.stderr and "No space left" in run.stderr
        records, report = read_records(out)
        assert records and records[0]["k"] == 1 and not report.closed
        assert any(r["k"] == 8 for r in records)
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def _start_hostwide(out: Path, *opts: str) -> subprocess.Popen[str]:
    """Start a capture without CMD; return once its probes are attached."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "heron.capture.cli", "-o", str(out), *opts],
        env=clean_env(),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("capturing:"):
            return proc
    raise AssertionError(f"capture did not start (exit {proc.wait()})")


def test_hostwide_comm_filter_and_sigint(standin: Any, tmp_path: Path) -> None:
    out = tmp_path / "comm.heron"
    proc = _start_hostwide(out, "--comm", "curl", "--flush-interval", "0.2")
    try:
        agent = subprocess.run(
            [
                sys.executable,
                "-m",
                "heron.standin.agents.curl",
                "--base-url",
                standin.https_url,
                "--ca",
                standin.ca_file,
            ],
            env=clean_env(**standin.client_env()),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert agent.returncode == 0, agent.stdout + agent.stderr
        other = subprocess.run(
            [
                sys.executable,
                "-m",
                "heron.standin.agents.gemini",
                "--base-url",
                standin.https_url,
                "--ca",
                standin.ca_file,
            ],
            env=clean_env(**standin.client_env()),
            cwd=ROOT,
            capture_output=True,
            timeout=120,
        )
        assert other.returncode == 0
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    records, report = read_records(out)
    assert report.closed and records[-1]["k"] == 2 and records[-1]["reason"] == "signal"
    comms = {r["pid"]: r["comm"] for r in records if r["k"] == 5}
    data_pids = {r["pid"] for r in records if r["k"] == 8}
    assert data_pids and all(comms.get(p) == "curl" for p in data_pids), (data_pids, comms)
    assert not any(b"gemini" in r["data"] for r in records if r["k"] == 8)


def test_pid_filter_follows_descendants(standin: Any, tmp_path: Path) -> None:
    # A shell that waits for a go file, then runs an agent: traced via --pid.
    go = tmp_path / "go"
    shell = subprocess.Popen(
        ["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; exec \"$@\"", "sh",
         sys.executable, "-m", "heron.standin.agents.openai_sync",
         "--base-url", standin.https_url, "--ca", standin.ca_file],
        env=clean_env(**standin.client_env()),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    out = tmp_path / "pid.heron"
    proc = _start_hostwide(out, "--pid", str(shell.pid), "--flush-interval", "0.2")
    try:
        go.write_text("")
        assert shell.wait(timeout=120) == 0
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    records, report = read_records(out)
    assert report.closed
    pids = {r["pid"] for r in records if r["k"] in (7, 8)}
    assert pids == {shell.pid}, pids  # exec keeps the pid; nothing else recorded
    assert any(r["k"] == 3 and r["pid"] == shell.pid and r.get("source") == "scan" for r in records)


@pytest.mark.parametrize("uid", [65534, 0])
def test_uid_filter_and_sni(standin: Any, tmp_path: Path, uid: int) -> None:
    tmp_path.chmod(0o755)
    out = tmp_path / f"uid{uid}.heron"
    url = standin.https_url.replace("127.0.0.1", "localhost") + "/healthz"
    env = clean_env(SUDO_UID="65534", SUDO_GID="65534")
    run = run_capture(
        out, ["curl", "-s", "--http2", "--cacert", standin.ca_file, url], "--uid", str(uid), env=env
    )
    assert run.returncode == 0 and '"ok"' in run.stdout, run.stderr[-2000:]
    records, report = read_records(out)
    assert report.closed
    opens = [r for r in records if r["k"] == 7]
    if uid == 65534:  # the agent's uid: recorded, with the TLS server name
        assert [o.get("sni") for o in opens] == ["localhost"]
        assert any(r["k"] == 8 and r["dir"] == 1 and b'"ok"' in r["data"] for r in records)
        assert all(r["uid"] == 65534 for r in records if r["k"] == 5)
    else:  # another uid: nothing of the agent
        assert not opens and not any(r["k"] in (5, 8) for r in records)


def test_cgroup_filter(standin: Any, tmp_path: Path) -> None:
    from heron.capture.procfs import cgroup2_root

    root = cgroup2_root()
    mounted = None
    if root is None:  # v1-only host: the v2 hierarchy still exists, mount it
        mounted = tmp_path / "cgroup2"
        mounted.mkdir()
        if subprocess.run(["mount", "-t", "cgroup2", "none", str(mounted)]).returncode:
            pytest.skip("no cgroup v2 hierarchy on this host")
        root = str(mounted)
    cg = Path(root) / f"heron-test-{os.getpid()}"
    cg.mkdir()
    out = tmp_path / "cg.heron"
    try:
        proc = _start_hostwide(out, "--cgroup", str(cg), "--flush-interval", "0.2")
        try:
            inside = subprocess.run(
                ["sh", "-c", f'echo $$ > {cg}/cgroup.procs && exec curl -s --http1.1 --cacert "$1" "$2"', "sh",
                 standin.ca_file, standin.https_url + "/healthz"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            outside = subprocess.run(
                ["curl", "-s", "--http1.1", "--cacert", standin.ca_file, standin.https_url + "/v1/models"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert inside.returncode == 0 and outside.returncode == 0
            time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
        records, report = read_records(out)
    finally:
        for _ in range(50):  # the exited member may take a moment to leave
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
        if mounted is not None:
            subprocess.run(["umount", "-l", str(mounted)])
    assert report.closed
    data = [r for r in records if r["k"] == 8]
    assert any(b"/healthz" in r["data"] for r in data)
    assert not any(b"/v1/models" in r["data"] for r in data)
    procs = [r for r in records if r["k"] == 3 and r.get("source") == "exec"]
    assert procs and all(p.get("cgroup") == "/" + cg.name for p in procs)


def test_vendored_libssl_copy_is_found_and_hooked(standin: Any, tmp_path: Path) -> None:
    """A private copy of libssl (as in a venv or conda env), loaded late by
    dlopen: found through the process's maps and hooked by its own inode."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("libssl.so.3", "libcrypto.so.3"):
        src = Path("/usr/lib/x86_64-linux-gnu") / name
        if not src.exists():
            pytest.skip(f"no {src}")
        (lib / name).write_bytes(src.read_bytes())
    script = (
        "import sys, time, urllib.request, ssl\n"
        "ctx = ssl.create_default_context(cafile=sys.argv[2])\n"
        "time.sleep(1.0)  # an agent importing its SDK\n"
        "for _ in range(3):\n"
        "    urllib.request.urlopen(sys.argv[1] + '/healthz', context=ctx).read()\n"
    )
    out = tmp_path / "vendored.heron"
    env = clean_env(LD_LIBRARY_PATH=str(lib))
    run = run_capture(
        out, [sys.executable, "-c", script, standin.https_url, standin.ca_file], env=env
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"hooked openssl in {lib}/libssl.so.3" in run.stderr
    records, _ = read_records(out)
    ins = [r for r in records if r["k"] == 8 and r["dir"] == 1]
    assert sum(b'"ok"' in r["data"] for r in ins) == 3


def test_gnutls_client(standin: Any, tmp_path: Path) -> None:
    """GnuTLS: libcurl-gnutls driven through ctypes (no gnutls CLI needed)."""
    import ctypes.util

    if not Path("/usr/lib/x86_64-linux-gnu/libcurl-gnutls.so.4").exists():
        pytest.skip("libcurl-gnutls.so.4 is not installed")
    script = (
        "import ctypes, sys\n"
        "c = ctypes.CDLL('libcurl-gnutls.so.4')\n"
        "c.curl_easy_init.restype = ctypes.c_void_p\n"
        "h = ctypes.c_void_p(c.curl_easy_init())\n"
        "c.curl_easy_setopt(h, 10002, sys.argv[1].encode())  # CURLOPT_URL\n"
        "c.curl_easy_setopt(h, 10065, sys.argv[2].encode())  # CURLOPT_CAINFO\n"
        "c.curl_easy_setopt(h, 84, ctypes.c_long(2))  # CURLOPT_HTTP_VERSION 1.1\n"
        "sys.exit(c.curl_easy_perform(h))\n"
    )
    assert ctypes.util.find_library("c")
    out = tmp_path / "gnutls.heron"
    run = run_capture(
        out, [sys.executable, "-c", script, standin.https_url + "/healthz", standin.ca_file]
    )
    assert run.returncode == 0, run.stderr[-2000:]
    records, _ = read_records(out)
    opens = [r for r in records if r["k"] == 7]
    assert [o["lib"] for o in opens] == ["gnutls"] and opens[0].get("local_port")
    data = [r for r in records if r["k"] == 8]
    assert {r["fn"] for r in data} == {"gnutls_record_send", "gnutls_record_recv"}
    assert any(r["dir"] == 0 and r["data"].startswith(b"GET /healthz HTTP/1.1") for r in data)
    assert any(r["dir"] == 1 and b'"ok"' in r["data"] for r in data)


def test_duration_stops_a_hostwide_capture(bpf: None, tmp_path: Path) -> None:
    out = tmp_path / "dur.heron"
    t0 = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "heron.capture.cli",
            "-o",
            str(out),
            "--duration",
            "1",
            "--comm",
            "no-such-comm",
        ],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert time.monotonic() - t0 < 60
    records, report = read_records(out)
    assert report.closed and records[-1]["reason"] == "duration"


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_gateway_seen_from_both_ends_and_upstream(standin: Any, tmp_path: Path, tls: bool) -> None:
    """An agent behind a local gateway (both traced), over plain HTTP or HTTPS: the
    agent's connections keep their local ports although its first connects to the
    starting gateway were refused on the same fd (the local end then rides on the
    connect event), so the analysis ties each call's three views together."""
    import heron

    out = tmp_path / "proxied.heron"
    gw = free_port()
    agent = [
        sys.executable, "-m", "heron.standin.agents.proxied", "--gateway-port", str(gw),
        "--base-url", standin.https_url, "--ca", standin.ca_file,
    ]  # fmt: skip
    opts = [] if tls else ["--plain-ports", str(gw)]
    if tls:
        agent.append("--gateway-tls")
    run = run_capture(out, agent, *opts, env=clean_env(**standin.client_env()))
    assert run.returncode == 0, run.stderr[-3000:]
    records, _ = read_records(out)
    opens = [r for r in records if r["k"] == 7]
    to_gw = [r for r in opens if r.get("role") == "client" and r.get("remote_port") == gw]
    assert len(to_gw) == 2  # the openai client's two keep-alive connections
    assert {r["transport"] for r in to_gw} == {"tls" if tls else "tcp"}
    assert all(r.get("local_addr") == "127.0.0.1" and r.get("local_port") for r in to_gw), to_gw
    sides = [r for r in opens if r.get("role") == "server" and r.get("local_port") == gw]
    assert sorted(r["remote_port"] for r in sides) == sorted(r["local_port"] for r in to_gw)
    calls = heron.open(out).calls
    own = calls.filter(calls["duplicate_of"].is_null())
    assert own.height == 3 and own["agent"].unique().to_list() == ["heron.standin.agents.proxied"]
    for cid in own["call_id"]:
        views = calls.filter(calls["duplicate_of"] == cid)
        assert sorted(views["duplicate_kind"].to_list()) == ["server_side", "upstream"]
