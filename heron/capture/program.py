"""Compile, load and attach the BPF programs; the only module importing bcc.

One :class:`Program` per capture: ``bpf/heron.c`` is compiled once (with the
options as ``-D`` flags, never by editing the C text), its tracepoints attach
themselves, and :meth:`Program.attach_library` puts the probe module's
uprobes/uretprobes on each copy of a TLS library (once per inode, pid -1).

Examples
--------
>>> ring_pages(16 << 20)
4096
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from heron.capture.errors import BpfUnavailable, CaptureError, NeedPrivilege
from heron.capture.events import LOST_NAMES
from heron.capture.libs import LibCopy
from heron.capture.probes import MODULES

BPF_DIR = Path(__file__).resolve().parent / "bpf"
CHUNK_SIZE = 32768
MAX_BODY_CAP = 33 * 32 * CHUNK_SIZE  # tail-call chain limit, see heron.h
PAGE = os.sysconf("SC_PAGE_SIZE")


def ring_pages(nbytes: int) -> int:
    """Ring buffer size in pages: a power of two, at least 2 chunks.

    Examples
    --------
    >>> ring_pages(100_000)
    32
    """
    pages = max(1, -(-nbytes // PAGE))
    p = 1
    while p < pages:
        p <<= 1
    return max(p, 2 * CHUNK_SIZE // PAGE * 2)


def import_bcc() -> Any:
    """Import bcc (Debian installs it for the system Python only)."""
    if "/usr/lib/python3/dist-packages" not in sys.path:
        sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import bcc
    except ImportError as e:
        raise BpfUnavailable(
            f"bcc is not importable ({e}); install it with: apt-get install python3-bpfcc"
        ) from None
    return bcc


@dataclass
class ProgramConfig:
    """Compile-time options of the BPF side."""

    body_cap: int = 8 << 20
    ringbuf_bytes: int = 16 << 20
    filter_pids: bool = False
    comms: tuple[str, ...] = ()
    uid: int | None = None
    cgroup_id: int | None = None
    self_pid: int = field(default_factory=os.getpid)
    plain_ports: tuple[int, ...] = (11434, 8000, 8080, 4000, 80)
    modules: tuple[ModuleType, ...] = MODULES

    def cflags(self) -> list[str]:
        """The ``-D`` flags for ``bpf/heron.c``."""
        if not 1024 <= self.body_cap <= MAX_BODY_CAP:
            raise CaptureError(
                f"body cap must be between 1 KiB and {MAX_BODY_CAP >> 20} MiB, got {self.body_cap} bytes"
            )
        flags = [
            f"-I{BPF_DIR}",
            f"-DBODY_CAP={self.body_cap}",
            f"-DCHUNK_SIZE={CHUNK_SIZE}",
            f"-DRINGBUF_PAGES={ring_pages(self.ringbuf_bytes)}",
            f"-DSELF_PID={self.self_pid}",
        ]
        if self.filter_pids or self.comms:
            flags.append("-DFILTER_PIDS")
        if self.comms:
            flags.append("-DFILTER_COMM")
        if self.uid is not None:
            flags.append(f"-DFILTER_UID={self.uid}")
        if self.cgroup_id is not None:
            flags.append(f"-DFILTER_CGROUP={self.cgroup_id}ULL")
        flags += [m.CFLAG for m in self.modules]
        return flags


class Program:
    """The loaded BPF programs and their maps.

    Raises
    ------
    NeedPrivilege
        Not root / no CAP_BPF.
    BpfUnavailable
        bcc missing, or the kernel refused the programs.
    """

    def __init__(self, config: ProgramConfig) -> None:
        if os.geteuid() != 0:
            raise NeedPrivilege("loading BPF programs")
        bcc = import_bcc()
        self.config = config
        self._bcc = bcc
        t0 = time.monotonic()
        try:
            self.bpf = bcc.BPF(src_file=str(BPF_DIR / "heron.c"), cflags=config.cflags())
        except Exception as e:  # bcc raises bare Exception
            raise BpfUnavailable(f"BPF programs did not compile/load: {e}") from None
        self.compile_seconds = time.monotonic() - t0
        # The copy chains for big calls (one per program type, see heron.h).
        for fn_name, table, kind in (
            ("copy_uprobe", "copy_kp", bcc.BPF.KPROBE),
            ("copy_tracepoint", "copy_tp", bcc.BPF.TRACEPOINT),
        ):
            fn = self.bpf.load_func(fn_name, kind)
            self.bpf[table][ctypes.c_int(0)] = ctypes.c_int(fn.fd)
        ports = self.bpf["plain_ports"]
        for p in config.plain_ports:
            ports[ctypes.c_uint16(p)] = ctypes.c_uint8(1)
        if config.comms:
            table = self.bpf["comm_filter"]
            for c in config.comms:
                key = table.Key()
                key.c = c.encode()[:15]
                table[key] = ctypes.c_uint8(1)
        self.attached: list[tuple[LibCopy, list[str]]] = []
        self.uprobe_count = 0

    # -- targets -----------------------------------------------------------

    def trace_pid(self, pid: int) -> None:
        """Add a process to the traced set (its children follow via fork)."""
        self.bpf["traced_pids"][ctypes.c_uint32(pid)] = ctypes.c_uint8(1)

    def attach_library(self, copy: LibCopy) -> list[str]:
        """Attach the module's hooks to one library copy; return symbols hooked.

        A missing optional symbol (``SSL_write_ex`` in OpenSSL 1.0) is
        skipped; a copy missing a required one is not attached at all.
        """
        done: list[str] = []
        for hook in copy.module.hooks():
            try:
                if hook.entry:
                    self.bpf.attach_uprobe(
                        name=copy.path, sym=hook.symbol, fn_name=hook.entry, pid=-1
                    )
                    self.uprobe_count += 1
                if hook.ret:
                    self.bpf.attach_uretprobe(
                        name=copy.path, sym=hook.symbol, fn_name=hook.ret, pid=-1
                    )
                    self.uprobe_count += 1
                done.append(hook.symbol)
            except Exception:  # bcc: symbol not found / attach refused
                if hook.required:
                    break
        self.attached.append((copy, done))
        return done

    # -- events and counters ---------------------------------------------

    def open_ring(self, callback: Callable[[bytes], None]) -> None:
        """Deliver each ring-buffer event's raw bytes to ``callback``."""

        def _cb(_ctx: Any, data: Any, size: int) -> int:
            callback(ctypes.string_at(data, size))
            return 0

        self._cb = _cb  # keep a reference: bcc holds only a C pointer
        self.bpf["events"].open_ring_buffer(_cb)

    def poll(self, timeout_ms: int) -> None:
        """Wait up to ``timeout_ms`` for a wakeup, then drain the ring.

        Small events do not wake us (see heron.h), so this always drains.
        """
        self.bpf.ring_buffer_poll(timeout_ms)
        self.bpf.ring_buffer_consume()

    def lost(self) -> dict[str, int]:
        """Per-source drop counters, summed over CPUs (cumulative)."""
        table = self.bpf["lost"]
        out = {}
        for i, name in enumerate(LOST_NAMES):
            out[name] = int(sum(table[ctypes.c_int(i)]))
        return out

    def close(self) -> None:
        """Detach everything (also done by the kernel when we exit)."""
        with contextlib.suppress(Exception):
            self.bpf.cleanup()
