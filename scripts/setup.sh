#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: everything `make demo` and
# `make test` need.  Safe to run again; each step checks before it acts.
#
#   - apt: bcc (python3-bpfcc, bpfcc-tools for the sslsniff peer benchmark),
#     libcurl3-gnutls (the GnuTLS capture test drives it),
#     kernel headers, curl, node;
#   - kernel headers: when the running kernel has no packaged headers, link
#     Debian's linux-headers-amd64 in as /lib/modules/$(uname -r)/{build,source};
#   - tracefs/debugfs mounted (bcc attaches uprobes through them);
#   - .venv with Heron installed in editable mode plus the dev extras.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=""; fi
fi

APT_PKGS=(python3-bpfcc bpfcc-tools linux-headers-amd64 curl ca-certificates libcurl3-gnutls nodejs)
missing=()
for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine may already ship its own node (not from apt); don't fight it.
if command -v node >/dev/null; then
    missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; then
        say "missing apt packages ${missing[*]} and not root: capture will not work (analysis still will)"
    else
        say "installing apt packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
else
    say "apt packages present"
fi

# Kernel headers for bcc.  Debian has no package for this (cloud/VM) kernel,
# so link the generic amd64 headers in; bcc only needs them to compile.
KREL="$(uname -r)"
if [ ! -e "/lib/modules/$KREL/build/include" ]; then
    hdr=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -1 || true)
    common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -1 || true)
    if [ -n "$hdr" ] && { [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; }; then
        say "no headers packaged for kernel $KREL: linking $hdr as /lib/modules/$KREL/build and $common as .../source"
        $SUDO mkdir -p "/lib/modules/$KREL"
        $SUDO ln -sfn "$hdr" "/lib/modules/$KREL/build"
        [ -n "$common" ] && $SUDO ln -sfn "$common" "/lib/modules/$KREL/source"
    else
        say "no kernel headers for $KREL and none to link: capture will not work"
    fi
else
    say "kernel headers present at /lib/modules/$KREL/build"
fi

# bcc attaches uprobes/tracepoints through tracefs.
if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    if [ -d /sys/kernel/tracing ] && ! [ -e /sys/kernel/tracing/uprobe_events ]; then
        $SUDO mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null && say "mounted tracefs" || true
    fi
    if [ -d /sys/kernel/debug ] && ! [ -e /sys/kernel/debug/tracing ]; then
        $SUDO mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null && say "mounted debugfs" || true
    fi
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PY --version)"
    "$PY" -m venv .venv
fi
stamp=.venv/.heron-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing heron (editable) with dev extras into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
else
    say ".venv up to date"
fi
# An editable install leaves heron's own modules uncompiled, and with
# PYTHONDONTWRITEBYTECODE set (as on CI) every `heron` command would compile
# them again: ~0.1 s per run.  A wheel install compiles at install time; do
# the same.  Stale files are recompiled in memory on import, so edits still work.
.venv/bin/python -m compileall -q heron >/dev/null || true
# The hot analysis modules, compiled with Cython (heron.accel; ~1 min on two
# cores, only for modules whose source changed).  Without a compiler the
# analysis runs as plain Python, the same tables a little slower.
if .venv/bin/python -c "import Cython" 2>/dev/null; then
    .venv/bin/python -m heron.accel build 2>&1 | sed 's/^/[setup] /' >&2 ||
        say "compiling the hot modules failed: the analysis runs as plain Python"
else
    say "no Cython in .venv: the analysis runs as plain Python"
fi
say "done"
