"""``heron-capture --check``: what works on this host, line by line, with fixes.

Each line is ``ok``/``FAIL``/``warn`` + what was checked; every FAIL says how
to fix it.  The exit status is non-zero when capture cannot work.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass

from heron.errors import HeronError

TRACEPOINTS = (
    "syscalls/sys_enter_connect",
    "syscalls/sys_enter_write",
    "syscalls/sys_exit_read",
    "syscalls/sys_enter_execve",
    "sched/sched_process_exec",
    "sched/sched_process_exit",
    "task/task_newtask",
    "signal/signal_deliver",
    "sock/inet_sock_set_state",
)
TRACEFS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")


@dataclass
class Item:
    """One checked item."""

    status: str  # "ok", "FAIL", "warn"
    what: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status:<4}  {self.what}"
        return text + (f"\n      fix: {self.fix}" if self.fix else "")


def _caps() -> set[str]:
    names = {38: "CAP_PERFMON", 39: "CAP_BPF", 21: "CAP_SYS_ADMIN"}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    eff = int(line.split()[1], 16)
                    return {n for bit, n in names.items() if eff >> bit & 1}
    except OSError:
        pass
    return set()


def checks() -> list[Item]:
    """Run every check (compiles the probes when everything before passes)."""
    items: list[Item] = []
    caps = _caps()
    root = os.geteuid() == 0
    if root or {"CAP_BPF", "CAP_PERFMON"} <= caps or "CAP_SYS_ADMIN" in caps:
        items.append(
            Item(
                "ok",
                f"privilege: euid {os.geteuid()}, capabilities {', '.join(sorted(caps)) or 'none'}",
            )
        )
    else:
        items.append(
            Item(
                "FAIL",
                f"privilege: euid {os.geteuid()} without CAP_BPF+CAP_PERFMON",
                "run with sudo",
            )
        )
    rel = os.uname().release
    items.append(Item("ok", f"kernel {rel}"))
    btf = os.path.exists("/sys/kernel/btf/vmlinux")
    items.append(
        Item(
            "ok" if btf else "warn",
            f"BTF {'present' if btf else 'absent'} (/sys/kernel/btf/vmlinux)",
        )
    )
    tracefs = next((t for t in TRACEFS if os.path.exists(f"{t}/events")), None)
    if tracefs is None:
        items.append(
            Item(
                "FAIL",
                "tracefs not mounted",
                "mount -t tracefs tracefs /sys/kernel/tracing (scripts/setup.sh does it)",
            )
        )
    else:
        items.append(Item("ok", f"tracefs at {tracefs}"))
        missing = [t for t in TRACEPOINTS if not os.path.exists(f"{tracefs}/events/{t}")]
        if missing:
            items.append(
                Item(
                    "FAIL",
                    f"tracepoints missing: {', '.join(missing)}",
                    "a kernel with CONFIG_FTRACE_SYSCALLS and these events",
                )
            )
        else:
            items.append(
                Item("ok", f"tracepoints: {', '.join(t.split('/')[1] for t in TRACEPOINTS)}")
            )
        up = os.path.exists(f"{tracefs}/uprobe_events")
        items.append(
            Item(
                "ok" if up else "FAIL",
                "uprobes (uprobe_events)",
                "" if up else "a kernel with CONFIG_UPROBE_EVENTS=y",
            )
        )
    try:
        from heron.capture.program import import_bcc

        bcc = import_bcc()
        items.append(Item("ok", f"bcc importable ({os.path.dirname(bcc.__file__)})"))
        have_bcc = True
    except HeronError as e:
        items.append(Item("FAIL", str(e), "apt-get install python3-bpfcc"))
        have_bcc = False
    build = f"/lib/modules/{rel}/build"
    if os.path.exists(f"{build}/include"):
        items.append(Item("ok", f"kernel headers at {os.path.realpath(build)}"))
    else:
        items.append(
            Item(
                "FAIL",
                f"no kernel headers at {build}",
                "apt-get install linux-headers-amd64 and run scripts/setup.sh (links them)",
            )
        )
    from heron.capture.libs import LibraryFinder

    finder = LibraryFinder()
    copies = finder.system_libraries()
    for name in ("node", "nodejs", "bun", "deno"):
        exe = shutil.which(name)
        if exe:
            copies += finder.executable(os.path.realpath(exe))
    t0 = time.monotonic()
    copies += finder.scan_all()
    if copies:
        for c in copies:
            where = f" (mapped by pid {c.pid})" if c.pid else ""
            items.append(Item("ok", f"TLS library: {c.module.NAME} {c.display}{where}"))
    else:
        items.append(
            Item(
                "warn",
                "no TLS library found (OpenSSL/GnuTLS)",
                "TLS traffic cannot be captured; plain HTTP still can",
            )
        )
    items.append(Item("ok", f"scanned running processes in {time.monotonic() - t0:.2f}s"))
    if have_bcc and all(i.status != "FAIL" for i in items):
        from heron.capture.program import Program, ProgramConfig

        try:
            prog = Program(ProgramConfig())
            items.append(
                Item("ok", f"probe programs compiled and loaded in {prog.compile_seconds:.2f}s")
            )
            attached = [prog.attach_library(c) for c in copies[:1]]
            if copies and attached[0]:
                items.append(
                    Item("ok", f"uprobes attach ({', '.join(attached[0])} on {copies[0].display})")
                )
            del prog
        except HeronError as e:
            items.append(
                Item(
                    "FAIL",
                    f"probe programs: {e}",
                    "see the error; scripts/setup.sh prepares a Debian host",
                )
            )
    return items


def run_check(echo: Callable[[str], None] = print) -> int:
    """Print the report; 0 when capture can work, 1 otherwise."""
    items = checks()
    for i in items:
        echo(i.line())
    bad = [i for i in items if i.status == "FAIL"]
    echo("capture: " + ("CANNOT work on this host" if bad else "works on this host"))
    return 1 if bad else 0
