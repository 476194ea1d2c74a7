"""The privileged half of Heron: eBPF capture of AI agents' traffic into ``.heron``.

This is the only package that imports bcc (lazily, in :mod:`.program`).
Layout, one responsibility per module:

==================  ==========================================================
``bpf/heron.c``     the BPF programs (tracepoints; theory of operation at top)
``bpf/<lib>.c``     TLS library uprobes, one file per library
``probes/<lib>.py`` how to recognise a library copy and which hooks it gets
``libs``            finding library copies (disk, /proc/PID/maps, executables)
``program``         compile/load/attach; ring buffer; drop counters
``events``          decoding ring-buffer events (sans-IO)
``assemble``        chunk events -> one DATA piece per call (sans-IO)
``redact``          credential redaction before anything reaches the disk
``session``         the capture loop: events in, records out
``target``          ``-- CMD``: the child held at a gate, run as the sudo user
``procfs``          process / socket / cgroup facts from /proc
``check``           ``heron-capture --check``
``cli``             the ``heron-capture`` command
==================  ==========================================================

Examples
--------
>>> from heron.capture.session import CaptureOptions
>>> CaptureOptions(output="run.heron").plain_ports
(11434, 8000, 8080, 4000, 80)
"""
