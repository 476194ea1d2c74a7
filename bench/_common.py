"""Shared pieces of the benchmark harness: rows, statistics, machine facts, processes.

Every scenario module ``bench/s<N>_<name>.py`` exposes ``run(quick: bool) ->
list[Row]``.  A :class:`Row` holds Heron's figure and the baseline's figure,
each a :class:`Measure` (several samples; the table shows the median and the
spread), the ratio between them, the goal and whether it was met.

This machine is shared and noisy, so a figure alone means little: each
scenario measures its baseline in the same run, interleaved with Heron's runs,
and the ratio is what the goal is judged on.

Examples
--------
>>> m = Measure([10.0, 12.0, 11.0], "µs")
>>> m.median, str(m)
(11.0, '11.0 µs (10.0–12.0, n=3)')
>>> r = Row("demo", m, Measure([5.0], "µs"), ratio=2.2, goal="≤ 3x", ok=True)
>>> r.status
'pass'
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
#: Every generated corpus, capture and scratch file lives here (git-ignored).
OUT = BENCH / "out"
PY = sys.executable


class BenchSkip(Exception):
    """A scenario (or one case of it) cannot run here; the message says why."""


@dataclass
class Measure:
    """Samples of one figure.  ``str()`` shows the median and the spread (min–max).

    Examples
    --------
    >>> str(Measure([2.0, 4.0], "MB/s", digits=0))
    '3 MB/s (2–4, n=2)'
    >>> str(Measure([1234567.0], "B", digits=0))
    '1234567 B'
    """

    values: list[float]
    unit: str = ""
    digits: int = 1

    @property
    def median(self) -> float:
        """The median of the samples (NaN when there are none)."""
        return statistics.median(self.values) if self.values else float("nan")

    def _fmt(self, v: float) -> str:
        return f"{v:,.{self.digits}f}".replace(",", "")

    def __str__(self) -> str:
        if not self.values:
            return "–"
        unit = f" {self.unit}" if self.unit else ""
        s = f"{self._fmt(self.median)}{unit}"
        if len(self.values) > 1:
            lo, hi = min(self.values), max(self.values)
            s += f" ({self._fmt(lo)}–{self._fmt(hi)}, n={len(self.values)})"
        return s


@dataclass
class Row:
    """One line of the results table.

    ``heron`` and ``baseline`` are :class:`Measure` objects or plain text.
    ``ok`` is True (pass), False (miss) or None (informational, no goal).
    ``error`` marks a scenario that failed or was skipped; it is shown instead
    of the figures.

    Examples
    --------
    >>> Row("x", "1", "2", error="skipped: needs root").status
    'skip'
    >>> Row("x", "1", "2", ok=False).status
    'miss'
    """

    scenario: str
    heron: Measure | str = "–"
    baseline: Measure | str = "–"
    ratio: float | None = None
    goal: str = ""
    ok: bool | None = None
    note: str = ""
    error: str | None = None
    ratio_fmt: str = "{:.2f}x"

    @property
    def status(self) -> str:
        """``pass``, ``miss``, ``info`` (no goal), ``skip`` or ``error``."""
        if self.error is not None:
            return "skip" if self.error.startswith("skipped") else "error"
        if self.ok is None:
            return "info"
        return "pass" if self.ok else "miss"

    def cells(self) -> list[str]:
        """The table cells, in column order."""
        ratio = "–" if self.ratio is None else self.ratio_fmt.format(self.ratio)
        if self.error is not None:
            status = f"{self.status}: {self.error}"
        else:
            status = self.status + (f" ({self.note})" if self.note else "")
        return [self.scenario, str(self.heron), str(self.baseline), ratio, self.goal, status]


COLUMNS = ["scenario", "Heron", "baseline", "ratio", "goal", "result"]


def as_row(obj: Any) -> Row:
    """Accept a :class:`Row`, a look-alike object or a mapping with the same field names.

    Examples
    --------
    >>> as_row({"scenario": "w", "heron": "1", "baseline": "2", "ratio": 0.5}).ratio
    0.5
    """
    if isinstance(obj, Row):
        return obj
    if isinstance(obj, dict):
        get = obj.get
    else:

        def get(k: str, d: Any = None) -> Any:
            return getattr(obj, k, d)

    names = ("heron", "baseline", "ratio", "goal", "ok", "note", "error")
    kw: dict[str, Any] = {k: get(k) for k in names if get(k) is not None}
    if "ratio" in kw:
        kw["ratio"] = float(kw["ratio"])
    return Row(str(get("scenario", "?")), **kw)


def markdown_table(rows: Sequence[Row]) -> str:
    """Render rows as one GitHub markdown table.

    Examples
    --------
    >>> print(markdown_table([Row("a", "1", "2", 0.5, "≤ 1x", True)]))
    | scenario | Heron | baseline | ratio | goal | result |
    |---|---|---|---|---|---|
    | a | 1 | 2 | 0.50x | ≤ 1x | pass |
    """
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [c.replace("|", "\\|").replace("\n", " ") for c in r.cells()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- machine ----------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(mod: str) -> str:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return "?"


def machine_description() -> dict[str, str]:
    """CPU, cores, memory, kernel, Python and library versions of this machine.

    Examples
    --------
    >>> "kernel" in machine_description()
    True
    """
    import ssl

    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    bcc = "not installed"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "python3-bpfcc"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if out.returncode == 0:
            bcc = out.stdout.strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": mem,
        "kernel": platform.release(),
        "OS": _os_name(),
        "Python": platform.python_version(),
        "OpenSSL": ssl.OPENSSL_VERSION,
        "bcc (python3-bpfcc)": bcc,
        "heron": _version("heron"),
        "heron compiled modules (heron.accel)": _compiled(),
        "zstandard": _version("zstandard"),
        "msgpack": _version("msgpack"),
        "polars": _version("polars"),
        "load average at start": load,
    }


def _compiled() -> str:
    """How many of the hot analysis modules run compiled (heron.accel)."""
    from heron import accel

    states = list(accel.status().values())
    off = " (off: HERON_PURE)" if accel.disabled() else ""
    return f"{states.count('compiled')} of {len(states)}{off}"


def _os_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return platform.system()


# -- privileges and tools ---------------------------------------------------


def bpf_unavailable() -> str | None:
    """Why real BPF capture cannot run here, or None when it can.

    With ``HERON_REQUIRE_BPF=1`` the caller must treat a reason as a failure,
    not a skip (see :func:`require_bpf`).
    """
    if os.geteuid() != 0:
        return "needs root for BPF"
    if not Path("/sys/kernel/tracing").exists() and not Path("/sys/kernel/debug/tracing").exists():
        return "no tracefs"
    if not Path("/usr/lib/python3/dist-packages/bcc").exists():
        return "bcc (python3-bpfcc) not installed"
    return None


def require_bpf() -> None:
    """Raise :class:`BenchSkip` when BPF is unavailable, or RuntimeError under HERON_REQUIRE_BPF=1."""
    why = bpf_unavailable()
    if why is None:
        return
    if os.environ.get("HERON_REQUIRE_BPF") == "1":
        raise RuntimeError(f"HERON_REQUIRE_BPF=1 but {why}")
    raise BenchSkip(f"skipped: {why}")


def heron_capture_cmd() -> list[str]:
    """The command that runs ``heron-capture`` (quiet: no live status line) from this environment."""
    exe = Path(PY).parent / "heron-capture"
    if exe.exists():
        return [str(exe), "-q"]
    found = shutil.which("heron-capture")
    if found:
        return [found, "-q"]
    raise BenchSkip("skipped: heron-capture is not installed in this environment")


def heron_cmd() -> list[str]:
    """The command that runs the ``heron`` CLI from this checkout's environment."""
    exe = Path(PY).parent / "heron"
    return [str(exe)] if exe.exists() else [PY, "-m", "heron.cli"]


def out_dir(name: str) -> Path:
    """A fresh-or-existing scratch directory ``bench/out/<name>``."""
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    return d


def fresh(path: Path) -> Path:
    """Remove ``path`` if it exists (captures are created O_EXCL) and return it."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return path


# -- processes --------------------------------------------------------------


@dataclass
class Timed:
    """What :func:`run_measured` learned about one child process."""

    wall_s: float
    maxrss_kib: int
    returncode: int
    stdout: str = ""
    stderr: str = ""


def run_measured(
    cmd: Sequence[str],
    *,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    stdout_to: Path | None = None,
    check: bool = True,
) -> Timed:
    """Run ``cmd`` and return its wall time and its own peak RSS.

    The command runs under ``bench/_rss.py`` (a small interpreter that forks
    it and reads ``wait4``), because a child forked straight from this large
    process would inherit this process's RSS high-water mark.

    Examples
    --------
    >>> t = run_measured([sys.executable, "-c", "pass"])
    >>> t.returncode, 0 < t.maxrss_kib < 100_000
    (0, True)
    """
    import json
    import tempfile

    fd, res = tempfile.mkstemp(prefix="bench-rss-", suffix=".json")
    os.close(fd)
    wrapped = [PY, str(BENCH / "_rss.py"), res, "--", *cmd]
    out_f = open(stdout_to, "wb") if stdout_to else subprocess.PIPE  # noqa: SIM115
    try:
        p = subprocess.Popen(wrapped, stdout=out_f, stderr=subprocess.PIPE, env=env)
        try:
            so_b, se_b = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError(f"{Path(cmd[0]).name} timed out after {timeout:.0f}s") from None
        try:
            with open(res) as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {"wall_s": float("nan"), "maxrss_kib": 0, "returncode": p.returncode}
    finally:
        if stdout_to:
            out_f.close()  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            os.unlink(res)
    so = (so_b or b"").decode(errors="replace")
    se = (se_b or b"").decode(errors="replace")
    code = int(info["returncode"])
    if check and code != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} exited {code}: {_last_line(se)}")
    return Timed(float(info["wall_s"]), int(info["maxrss_kib"]), code, so, se)


@contextlib.contextmanager
def background(
    cmd: Sequence[str],
    *,
    log: Path,
    ready: str | None = None,
    timeout: float = 90,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (output to ``log``) for the duration of the block; stop it with SIGINT.

    With ``ready``, wait until that text appears in its output before entering
    the block.  The output goes to a file, not a pipe, so a chatty tracer never
    blocks and the harness spends no CPU draining it.
    """
    with open(log, "wb") as f:
        p = subprocess.Popen(
            cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    try:
        if ready is not None:
            deadline = time.monotonic() + timeout
            needle = ready.encode()
            while True:
                head = log.read_bytes()[: 1 << 20]
                if needle in head:
                    break
                if p.poll() is not None:
                    raise RuntimeError(
                        f"{' '.join(cmd[:3])} exited {p.returncode} before ready: {head[-600:]!r}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(cmd[:3])} not ready after {timeout:.0f}s")
                time.sleep(0.05)
        yield p
    finally:
        stop(p)


def stop(p: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop a process started by :func:`background` (SIGINT to its group, then SIGKILL)."""
    if p.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, signal.SIGINT)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


@dataclass
class Interleaved:
    """Collect samples for several cases run in round-robin order (noise hits all alike)."""

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, case: str, value: float) -> None:
        """Record one sample of ``case``."""
        self.samples.setdefault(case, []).append(value)

    def measure(self, case: str, unit: str, digits: int = 1) -> Measure:
        """The samples of ``case`` as a :class:`Measure`."""
        return Measure(list(self.samples.get(case, [])), unit, digits)

    def median(self, case: str) -> float:
        """Median of ``case`` (NaN when absent)."""
        v = self.samples.get(case)
        return statistics.median(v) if v else float("nan")


def ratio(a: float, b: float) -> float | None:
    """``a / b``, or None when ``b`` is zero or either is NaN."""
    if b == 0 or a != a or b != b:
        return None
    return a / b


@dataclass
class CaptureSummary:
    """What a ``.heron`` file holds, by :func:`capture_summary`."""

    records: int = 0
    data_records: int = 0
    out_bytes: int = 0  # DATA len summed, direction out
    in_bytes: int = 0
    captured_bytes: int = 0  # len(data) summed (less than len when truncated)
    lost: dict[str, int] = field(default_factory=dict)  # last STATS record's counters
    read_losses: int = 0  # damage the reader reported
    pids: set[int] = field(default_factory=set)

    @property
    def lost_total(self) -> int:
        """Events the capture says it dropped: the last STATS ``lost`` map, byte counters aside."""
        return sum(int(v) for k, v in self.lost.items() if not k.endswith("bytes"))

    @property
    def lost_bytes(self) -> int:
        """Payload bytes the capture says it dropped (its ``*_bytes`` lost counters)."""
        return sum(int(v) for k, v in self.lost.items() if k.endswith("bytes"))


def capture_summary(path: Path, *, pid: int | None = None) -> CaptureSummary:
    """Count records and DATA bytes (optionally of one pid) and the drop counters in a capture.

    Examples
    --------
    >>> import io
    >>> from heron.format import Writer
    >>> buf = io.BytesIO()
    >>> with Writer(buf) as w:
    ...     _ = w.data(1, conn=1, pid=5, dir=0, offset=0, length=3, data=b"abc")
    >>> _ = buf.seek(0)
    >>> capture_summary(buf).out_bytes  # doctest: +SKIP
    3
    """
    from heron.format import Reader, RecordKind

    s = CaptureSummary()
    data_k, stats_k = int(RecordKind.DATA), int(RecordKind.STATS)
    r = Reader(path)
    for rec in r:
        s.records += 1
        k = rec["k"]
        if k == data_k:
            if pid is not None and rec.get("pid") != pid:
                continue
            s.data_records += 1
            s.pids.add(rec["pid"])
            if rec["dir"] == 0:
                s.out_bytes += rec["len"]
            else:
                s.in_bytes += rec["len"]
            s.captured_bytes += len(rec["data"])
        elif k == stats_k:
            s.lost = dict(rec.get("lost") or {})
    rep = getattr(r, "report", None)
    s.read_losses = len(getattr(rep, "losses", []) or [])
    return s


def _last_line(text: str) -> str:
    """The last non-blank line of a process's stderr (a traceback's message)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][-400:] if lines else "(no output)"
