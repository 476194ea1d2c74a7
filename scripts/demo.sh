#!/usr/bin/env bash
# make demo: capture the bundled demo agent against the local stand-in
# provider, then analyse it.  See scripts/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/demo.py "$@"
