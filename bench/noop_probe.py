"""The physical floor of TLS capture: a no-op uprobe + uretprobe on the SSL functions.

``python -m bench.noop_probe [--lib PATH]`` (root) attaches BPF programs that
return immediately to the entry and the return of ``SSL_write``,
``SSL_write_ex``, ``SSL_read`` and ``SSL_read_ex`` in libssl, for every
process (pid -1, as heron-capture attaches), prints ``READY`` and waits for
SIGINT/SIGTERM.  Whatever a write costs with this attached, over the cost
with nothing attached, is the price of the kernel's uprobe machinery alone:
no capture tool can do less work per hooked call.

This is the only bcc user outside ``heron/capture/``; it is a measuring
instrument, not part of Heron.

Examples
--------
::

    sudo .venv/bin/python -m bench.noop_probe &
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

FUNCTIONS = ("SSL_write", "SSL_write_ex", "SSL_read", "SSL_read_ex")

PROGRAM = r"""
int noop_enter(struct pt_regs *ctx) { return 0; }
int noop_return(struct pt_regs *ctx) { return 0; }
"""


def main(argv: list[str] | None = None) -> int:
    """Attach, announce READY, wait for a signal, detach."""
    ap = argparse.ArgumentParser(prog="python -m bench.noop_probe")
    ap.add_argument("--lib", default=None, help="libssl path (default: the one ctypes loads)")
    a = ap.parse_args(argv)
    sys.path.append("/usr/lib/python3/dist-packages")
    from bcc import BPF

    from bench.tls_pair import libssl_path

    lib = a.lib or libssl_path()
    b = BPF(text=PROGRAM)
    for fn in FUNCTIONS:
        b.attach_uprobe(name=lib, sym=fn, fn_name="noop_enter", pid=-1)
        b.attach_uretprobe(name=lib, sym=fn, fn_name="noop_return", pid=-1)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print(f"READY {len(FUNCTIONS) * 2} probes on {lib}", flush=True)
    done.wait()
    b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
