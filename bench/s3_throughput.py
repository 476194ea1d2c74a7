"""Scenario 3: the highest plaintext rate heron-capture records with zero drops.

Setup: ``bench/tls_pair.py``'s ctypes OpenSSL client writing 64 KiB per
``SSL_write`` to the discard server, paced to an offered rate for 2 s
(0.5 s in ``--quick``).  Baseline: the same client unpaced with no capture
(the machine's no-capture TLS transfer rate, median of three).  Heron: the
client under ``heron-capture -o FILE -- <client>`` at default settings, the
offered rate ramped up (5, 10, 20, 40, 80, 160, 320 MB/s, then unpaced) until
a step loses data (``--quick``: one step at 20 MB/s).  A step passes when the file's last ``STATS`` record
counts no lost events, the reader finds no damage, and the captured DATA
adds up to every byte the client wrote.

Heron's figure is the rate the client achieved at the highest passing step;
the ratio is that over the no-capture rate.

Examples
--------
::

    sudo .venv/bin/python -m bench --only 3
"""

from __future__ import annotations

import json
import statistics

from bench._common import (
    PY,
    Measure,
    Row,
    capture_summary,
    fresh,
    heron_capture_cmd,
    out_dir,
    ratio,
    require_bpf,
    run_measured,
)
from bench.s1_tls_overhead import _env, tls_server

RATES = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 0.0)  # MB/s; 0 = unpaced


def client(port: int, rate: float, duration: float, result: str) -> list[str]:
    """The paced client's command line."""
    return [
        PY,
        "-m",
        "bench.tls_pair",
        "client",
        "--port",
        str(port),
        "--sizes",
        "65536",
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        "--result",
        result,
    ]


def run(quick: bool) -> list[Row]:
    """Baseline rate, then the ramp under capture; one row."""
    require_bpf()
    duration = 0.5 if quick else 2.0
    rates = (20.0,) if quick else RATES
    d = out_dir("s3")
    env = _env()
    base: list[float] = []
    best: tuple[float, float] | None = None  # (offered, achieved)
    failed = ""
    with tls_server(d) as port:
        res = fresh(d / "client.json")
        for _ in range(1 if quick else 3):
            run_measured(client(port, 0.0, duration, str(res)), env=env, timeout=120)
            base.append(json.loads(res.read_text())["paced"]["mb_s"])
        cap_cmd = heron_capture_cmd()
        for rate in rates:
            cap = fresh(d / "ramp.heron")
            res = fresh(d / "client.json")
            run_measured(
                [*cap_cmd, "-o", str(cap), "--", *client(port, rate, duration, str(res))],
                env=env,
                timeout=300,
            )
            out = json.loads(res.read_text())
            summ = capture_summary(cap, pid=out["pid"])
            wrote = out["paced"]["bytes"]
            if summ.lost_total or summ.read_losses or summ.out_bytes < wrote:
                failed = (
                    f"at {'unpaced' if rate == 0 else f'{rate:.0f} MB/s'}: "
                    f"{summ.lost_total} lost events, {summ.out_bytes / 1e6:.1f}/{wrote / 1e6:.1f} MB captured"
                )
                break
            best = (rate, out["paced"]["mb_s"])
    base_m = statistics.median(base)
    if best is None:
        return [
            Row(
                "3. capture throughput with zero drops (64 KiB writes)",
                "none",
                Measure(base, "MB/s"),
                None,
                "info",
                None,
                error=f"dropped already {failed}",
            )
        ]
    offered = "unpaced" if best[0] == 0 else f"offered {best[0]:.0f} MB/s"
    note = f"highest passing step: {offered}" + (f"; first loss {failed}" if failed else "")
    return [
        Row(
            "3. capture throughput with zero drops (64 KiB writes) vs no-capture rate",
            Measure([best[1]], "MB/s"),
            Measure(base, "MB/s"),
            ratio(best[1], base_m),
            "info",
            None,
            note=note,
        )
    ]
