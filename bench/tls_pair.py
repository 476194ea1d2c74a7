"""A tight TLS client/server pair for measuring the cost of probes on each SSL write.

The **server** (``python -m bench.tls_pair server``) is Python's ``ssl``
module: it accepts connections and reads and discards everything.

The **client** (``python -m bench.tls_pair client``) drives OpenSSL's
``libssl.so.3`` directly through ``ctypes`` and calls ``SSL_write`` (or
``SSL_write_ex`` with ``--fn write_ex``) in a tight loop, timing batches of
writes with ``perf_counter_ns`` (wall) and ``thread_time_ns`` (the client
thread's CPU time, user + kernel: a uprobe's trap and its BPF program run in
the traced thread, so this is the cost the probe imposes on the caller,
without the time the client spends blocked on a slower server).  Why ctypes instead of Python's ``ssl``
module: CPython calls ``SSL_write_ex`` only, which Debian's
``sslsniff-bpfcc`` does not hook at all, so a Python-``ssl`` client would make
the peer look free (it would capture nothing).  Calling ``SSL_write`` makes
every case -- no probes, the no-op floor, heron-capture and sslsniff -- pay for
exactly the same hooked function on exactly the same bytes.

The client prints one JSON object on stdout (or writes it to ``--result``):
for each size, the median and 10th-percentile wall and CPU µs per write over
the batches, and the achieved
MB/s.  With ``--rate`` it paces its writes to that many MB/s for
``--duration`` seconds instead (the throughput scenario).

Examples
--------
::

    python -m bench.tls_pair server --port-file /tmp/port &
    python -m bench.tls_pair client --port $(cat /tmp/port) --sizes 1024,65536
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import os
import socket
import ssl
import statistics
import sys
import threading
import time
from pathlib import Path

LIBSSL = "libssl.so.3"


def libssl_path() -> str:
    """Absolute path of the libssl the client loads (the file the probes attach to)."""
    lib = ctypes.CDLL(LIBSSL)
    fn = lib.SSL_write
    info = _dladdr(ctypes.cast(fn, ctypes.c_void_p).value or 0)
    return os.path.realpath(info) if info else LIBSSL


def _dladdr(addr: int) -> str | None:
    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    info = DlInfo()
    if libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info)) and info.dli_fname:
        return str(info.dli_fname.decode())
    return None


# -- server -------------------------------------------------------------------


def make_certs(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA-signed server certificate for 127.0.0.1 (trustme), cached in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.pem", directory / "server.key"
    if not (cert.exists() and key.exists()):
        import trustme

        ca = trustme.CA()
        srv = ca.issue_cert("127.0.0.1", "localhost")
        srv.private_key_pem.write_to_path(str(key))
        srv.cert_chain_pems[0].write_to_path(str(cert))
    return cert, key


def serve(port_file: Path, cert_dir: Path) -> None:
    """Accept TLS connections on loopback forever; read and discard everything."""
    cert, key = make_certs(cert_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(ls.getsockname()[1]))
    tmp.replace(port_file)

    def handle(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as s:
                buf = bytearray(1 << 20)
                while s.recv_into(buf):
                    pass
        except (OSError, ssl.SSLError):
            pass

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


# -- client -------------------------------------------------------------------


class Client:
    """An OpenSSL client session driven through ctypes (``SSL_write`` on a blocking socket)."""

    def __init__(self, port: int) -> None:
        lib = ctypes.CDLL(LIBSSL)
        lib.TLS_client_method.restype = ctypes.c_void_p
        lib.SSL_CTX_new.restype = ctypes.c_void_p
        lib.SSL_CTX_new.argtypes = [ctypes.c_void_p]
        lib.SSL_new.restype = ctypes.c_void_p
        lib.SSL_new.argtypes = [ctypes.c_void_p]
        lib.SSL_set_fd.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.SSL_connect.argtypes = [ctypes.c_void_p]
        lib.SSL_write.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.SSL_write_ex.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_size_t),
        ]
        lib.SSL_shutdown.argtypes = [ctypes.c_void_p]
        lib.SSL_free.argtypes = [ctypes.c_void_p]
        lib.SSL_CTX_free.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.ctx = lib.SSL_CTX_new(lib.TLS_client_method())
        self.ssl = lib.SSL_new(self.ctx)
        lib.SSL_set_fd(self.ssl, self.sock.fileno())
        if lib.SSL_connect(self.ssl) != 1:
            raise OSError("SSL_connect failed")

    def writer(self, size: int, fn: str = "write") -> tuple[object, ctypes.Array[ctypes.c_char]]:
        """A zero-argument callable doing one write of ``size`` bytes, and its buffer."""
        # Text that looks like JSON so compressing captures is not trivially free.
        pattern = b'{"role":"user","content":"the quick brown fox %d"},' * (size // 40 + 1)
        buf = ctypes.create_string_buffer(pattern[:size], size)
        lib, s = self.lib, self.ssl
        if fn == "write_ex":
            written = ctypes.c_size_t()
            ref = ctypes.byref(written)

            def one_ex() -> None:
                if lib.SSL_write_ex(s, buf, size, ref) != 1:
                    raise OSError("SSL_write_ex failed")

            return one_ex, buf

        def one() -> None:
            if lib.SSL_write(s, buf, size) != size:
                raise OSError("SSL_write failed")

        return one, buf

    def close(self) -> None:
        """Shut the session down and free it."""
        self.lib.SSL_shutdown(self.ssl)
        self.lib.SSL_free(self.ssl)
        self.lib.SSL_CTX_free(self.ctx)
        self.sock.close()


def time_writes(c: Client, size: int, count: int, batch: int, fn: str) -> dict[str, float]:
    """Median µs per write over ``count // batch`` batches, after a warm-up."""
    one, _buf = c.writer(size, fn)
    warm = min(200, count)
    for _ in range(warm):
        one()  # type: ignore[operator]
    per_call: list[float] = []
    cpu_per_call: list[float] = []
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    t_start = clock()
    for _ in range(max(1, count // batch)):
        t0, c0 = clock(), cpu()
        for _ in range(batch):
            one()  # type: ignore[operator]
        c1, t1 = cpu(), clock()
        per_call.append((t1 - t0) / batch / 1000)
        cpu_per_call.append((c1 - c0) / batch / 1000)
    total_s = (clock() - t_start) / 1e9
    n = max(1, count // batch) * batch
    return {
        "us_per_call": statistics.median(per_call),
        "cpu_us_per_call": statistics.median(cpu_per_call),
        # The 10th percentile: a probe's cost is the same on every call and
        # noise from other work only ever adds, so a low percentile of many
        # batches is the steadiest estimate on a shared machine.
        "cpu_us_p10": _p10(cpu_per_call),
        "us_p10": _p10(per_call),
        "mb_s": n * size / total_s / 1e6,
        "calls": n,
        "bytes_total": (warm + n) * size,  # every byte written, warm-up included
    }


def _p10(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 10]


def paced(c: Client, size: int, rate_mb_s: float, duration: float, fn: str) -> dict[str, float]:
    """Write ``size``-byte calls at ``rate_mb_s`` (0 = as fast as possible) for ``duration`` s."""
    one, _buf = c.writer(size, fn)
    interval = size / (rate_mb_s * 1e6) if rate_mb_s > 0 else 0.0
    n = 0
    t0 = time.perf_counter()
    end = t0 + duration
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if interval:
            due = t0 + n * interval
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
        one()  # type: ignore[operator]
        n += 1
    elapsed = time.perf_counter() - t0
    return {"bytes": n * size, "calls": n, "seconds": elapsed, "mb_s": n * size / elapsed / 1e6}


def main(argv: list[str] | None = None) -> int:
    """Command line of the pair (see the module docstring)."""
    ap = argparse.ArgumentParser(prog="python -m bench.tls_pair")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port-file", type=Path, required=True)
    s.add_argument("--cert-dir", type=Path, default=Path(__file__).parent / "out" / "tls")
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--sizes", default="1024,65536")
    c.add_argument("--counts", default="20000,2000", help="writes per size")
    c.add_argument("--batch", type=int, default=0, help="writes per timed batch (0: count/200)")
    c.add_argument("--fn", choices=["write", "write_ex"], default="write")
    c.add_argument("--rate", type=float, default=None, help="paced mode: MB/s (0 = unpaced)")
    c.add_argument("--duration", type=float, default=2.0)
    c.add_argument("--result", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "server":
        with contextlib.suppress(KeyboardInterrupt):  # the bench stops it with SIGINT
            serve(a.port_file, a.cert_dir)
        return 0
    cl = Client(a.port)
    out: dict[str, object] = {"pid": os.getpid(), "libssl": libssl_path()}
    sizes = [int(x) for x in a.sizes.split(",")]
    if a.rate is not None:
        out["paced"] = paced(cl, sizes[0], a.rate, a.duration, a.fn)
    else:
        counts = [int(x) for x in a.counts.split(",")]
        for size, count in zip(sizes, counts, strict=True):
            batch = a.batch or max(5, count // 200)
            out[str(size)] = time_writes(cl, size, count, max(1, min(batch, count)), a.fn)
    cl.close()
    text = json.dumps(out)
    if a.result:
        a.result.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
