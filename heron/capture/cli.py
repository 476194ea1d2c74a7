"""``heron-capture``: record AI agents' LLM traffic with eBPF into a .heron file.

Thin click layer over :class:`heron.capture.session.Capture`; the option
parsing, the ``-- CMD`` gate, signals and the live status line live here.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time

import click

from heron.errors import HeronError

EPILOG = """\b
Examples:
  sudo heron-capture -o run.heron -- python agent.py     # CMD and its children
  sudo heron-capture -o all.heron --duration 60          # host-wide for a minute
  sudo heron-capture -o - --comm node | heron info -     # stream to a pipe
  sudo heron-capture -o svc.heron --pid 4242             # a running process tree
  sudo heron-capture --check                             # what works on this host

\b
With -- CMD, CMD runs as the user who invoked sudo (SUDO_UID/SUDO_GID), starts
only after the probes are attached, and heron-capture exits with its status.
The file is created 0600, owned by that user; SIGINT/SIGTERM finish it
cleanly, and a SIGKILL leaves it readable up to the last flush.
"""

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(i?b?)\s*$", re.I)


def parse_size(text: str) -> int:
    """``"8M"``, ``"64KiB"``, ``"1048576"`` -> bytes.

    Examples
    --------
    >>> parse_size("8M"), parse_size("64KiB"), parse_size("100")
    (8388608, 65536, 100)
    """
    m = _SIZE.match(text)
    if not m:
        raise click.BadParameter(f"expected a size like 8M, 64KiB or 1048576, got {text!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def _ports(text: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated ports, got {text!r}") from None
    if any(not 0 < p < 65536 for p in ports):
        raise click.BadParameter(f"ports must be 1..65535, got {text!r}")
    return ports


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "allow_interspersed_args": False},
    epilog=EPILOG,
)
@click.option("-o", "--output", metavar="FILE", help="Output .heron file ('-' = standard output).")
@click.option("--check", is_flag=True, help="Report what works on this host, then exit.")
@click.option(
    "--pid",
    "pids",
    multiple=True,
    type=int,
    help="Only this process and its descendants (repeatable).",
)
@click.option(
    "--comm",
    "comms",
    multiple=True,
    help="Only processes with this comm, and their children (repeatable).",
)
@click.option("--uid", type=int, help="Only processes of this uid.")
@click.option(
    "--cgroup", help="Only processes in this cgroup v2 path (e.g. /system.slice/x.service)."
)
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option(
    "--body-cap",
    default="8M",
    show_default=True,
    help="Bytes copied per call at most; beyond, length is kept and data marked truncated.",
)
@click.option(
    "--ringbuf-size",
    default="16M",
    show_default=True,
    help="Kernel ring buffer size (rounded up to a power of two pages).",
)
@click.option(
    "--flush-interval",
    default=1.0,
    show_default=True,
    type=float,
    help="Seconds a record may wait before its chunk is written (what a SIGKILL can lose).",
)
@click.option(
    "--plain-ports",
    default="11434,8000,8080,4000,80",
    show_default=True,
    help="TCP ports whose plaintext HTTP is recorded.",
)
@click.option(
    "--no-redact",
    is_flag=True,
    help="Store credentials (Authorization, x-api-key, cookies, key=) verbatim.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option(
    "-q", "--quiet", is_flag=True, help="No live status line and no messages except errors."
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def capture(
    output: str | None,
    check: bool,
    pids: tuple[int, ...],
    comms: tuple[str, ...],
    uid: int | None,
    cgroup: str | None,
    duration: float | None,
    body_cap: str,
    ringbuf_size: str,
    flush_interval: float,
    plain_ports: str,
    no_redact: bool,
    force: bool,
    quiet: bool,
    command: tuple[str, ...],
) -> None:
    """Record what AI agents send to and receive from LLM and tool APIs.

    Hooks TLS libraries (OpenSSL, GnuTLS, node's built-in OpenSSL) with eBPF
    uprobes and plain HTTP to local model servers with syscall tracepoints;
    writes plaintext, connections and processes to a .heron file.  Needs
    root.  Analyse the file unprivileged with `heron`.
    """
    if check:
        from heron.capture.check import run_check

        code = run_check(echo=click.echo)
        sys.stdout.flush()
        os._exit(code)  # skip bcc's slow atexit detach
    if not output:
        raise click.UsageError("-o FILE is required (use -o - for standard output)")
    if output == "-" and sys.stdout.isatty():
        raise click.UsageError("-o - writes binary data: redirect it to a file or a pipe")
    if output != "-" and os.path.lexists(output) and not force:
        raise click.ClickException(f"{output} exists; pass --force to overwrite it")
    from heron.capture.session import Capture, CaptureOptions
    from heron.capture.target import Target, run_as_from_env

    opts = CaptureOptions(
        output=output,
        force=force,
        body_cap=parse_size(body_cap),
        ringbuf_bytes=parse_size(ringbuf_size),
        flush_interval=flush_interval,
        plain_ports=_ports(plain_ports),
        redact=not no_redact,
        pids=pids,
        comms=comms,
        uid=uid,
        cgroup=cgroup,
        command=list(command) or None,
    )
    if os.geteuid() != 0:
        raise click.ClickException(
            "heron-capture needs root (eBPF uprobes and tracepoints); run it with sudo"
        )
    from heron.capture.check import _caps

    caps = _caps()
    if "CAP_SYS_ADMIN" not in caps and not {"CAP_BPF", "CAP_PERFMON"} <= caps:
        # Root with a reduced capability set (a container, capsh, systemd):
        # say so here rather than let the BPF load fail with EPERM later.
        raise click.ClickException(
            "heron-capture runs as root but without the capabilities eBPF needs "
            f"(has: {', '.join(sorted(caps)) or 'none'}; needs CAP_BPF and CAP_PERFMON, "
            "or CAP_SYS_ADMIN); in a container, run it privileged"
        )
    tty = sys.stderr.isatty() and not quiet

    def log(msg: str) -> None:
        if not quiet or "cannot write" in msg:
            click.echo(("\r\x1b[K" if tty else "") + msg, err=True)

    run_as = run_as_from_env(os.environ)
    target = None
    cap = Capture(opts, log=log)
    try:
        if command:
            target = Target(list(command), run_as)
        cap.start(
            target_pid=target.pid if target else None,
            target_exe=target.exe if target else None,
        )
    except HeronError as e:
        if target is not None:
            target.abort()
        raise click.ClickException(str(e)) from None
    if run_as is not None and output != "-":
        try:
            os.chown(output, run_as[0], run_as[1], follow_symlinks=False)
        except OSError as e:
            log(f"warning: cannot give {output} to uid {run_as[0]}: {e}")

    stop_reason: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        if target is not None and target.status is None:
            target.signal(signum)  # the agent decides; we stop when it exits
            if stop_reason:  # second signal: stop now
                stop_reason.append("signal")
            else:
                stop_reason.append("")
        else:
            stop_reason.append("signal")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if target is not None:
        target.release()
    t0 = time.monotonic()
    next_status = t0 + 1.0
    reason = "signal"
    exit_status: int | None = None
    while True:
        cap.step(20)
        now = time.monotonic()
        if tty and now >= next_status and not cap.failed:
            click.echo("\r\x1b[K" + cap.status_line(), err=True, nl=False)
            next_status = now + 1.0
        if target is not None and target.poll() is not None:
            exit_status = target.status
            reason = "command-exited"
            # Let the last events (exit, final reads) reach the ring.
            for _ in range(3):
                cap.step(10)
            break
        if "signal" in stop_reason:
            break
        if duration is not None and now - t0 >= duration:
            reason = "duration"
            break
    if tty:
        click.echo("\r\x1b[K", err=True, nl=False)
    cap.stop(reason, exit_status, error=cap.failed)
    if cap.failed and output == "-":
        # The reader went away: do not let interpreter shutdown trip on it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if not quiet or cap.failed:
        click.echo(cap.summary(), err=True)
    status = 3 if cap.failed else 0
    if target is not None:
        status = target.wait() or status
    # Exit without interpreter teardown: bcc's atexit detach takes seconds and
    # the kernel removes the probes anyway when the process ends.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main() -> None:
    """Entry point of the ``heron-capture`` script."""
    capture(prog_name="heron-capture")


if __name__ == "__main__":
    main()
