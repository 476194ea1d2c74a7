"""The compiled hot modules (heron.accel): used only while current, and the same tables.

* The finder's choice, without a compiler: a compiled copy is loaded only
  when it was built from the source as it is now, never with ``HERON_PURE``.
* On CI (``CI`` set, as ``.ci/run`` does) set-up must have compiled every
  module, so the suite and the benchmarks run what users run.
* Every table of every fixture capture is the same with the compiled
  modules and with the source (``HERON_PURE=1``), each in its own process,
  both the one-process pass and the two-process one.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from heron import accel
from heron.accel.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = sorted(str(p) for p in (ROOT / "tests" / "fixtures").glob("*.heron"))
NAME = "heron.analyze.clock"


def _source_spec(name: str) -> importlib.machinery.ModuleSpec:
    package = importlib.import_module(name.rpartition(".")[0])
    spec = importlib.machinery.PathFinder.find_spec(name, package.__path__)
    assert spec is not None and spec.origin is not None
    return spec


def test_finder_loads_only_a_copy_built_from_the_current_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(accel, "COMPILED_DIR", tmp_path)
    monkeypatch.delenv("HERON_PURE", raising=False)
    package = importlib.import_module("heron.analyze")
    finder = accel.Finder()
    source = Path(_source_spec(NAME).origin or "").read_bytes()

    assert finder.find_spec(NAME, package.__path__) is None  # nothing built

    stale = tmp_path / accel.compiled_path(NAME, source + b"# edited\n").name
    stale.write_bytes(b"")
    assert finder.find_spec(NAME, package.__path__) is None  # built from other source
    assert accel.status()[NAME] == "stale"

    current = tmp_path / accel.compiled_path(NAME, source).name
    current.write_bytes(b"")
    spec = finder.find_spec(NAME, package.__path__)
    assert spec is not None and spec.origin == str(current)
    assert isinstance(spec.loader, importlib.machinery.ExtensionFileLoader)
    assert accel.status()[NAME] == "compiled"

    monkeypatch.setenv("HERON_PURE", "1")
    assert finder.find_spec(NAME, package.__path__) is None
    assert finder.find_spec("heron.analyze.capture", package.__path__) is None  # not listed


def test_status_command_lists_every_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines[: len(accel.MODULES)]] == list(accel.MODULES)
    assert main(["nonsense"]) == 2


def test_setup_compiled_every_module_on_ci() -> None:
    if not os.environ.get("CI"):
        done = list(accel.status().values()).count("compiled")
        pytest.skip(f"set-up compiles the modules on CI; here {done} of {len(accel.MODULES)} are")
    assert accel.status() == dict.fromkeys(accel.MODULES, "compiled")
    if not accel.disabled():
        assert importlib.import_module("heron.analyze.build").__file__.endswith(".so")


_DUMP = r"""
import json, sys
import heron
from heron.analyze import pipeline
jobs = int(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    cap = heron.open(path, jobs=jobs)
    tables = {t: cap.table(t).to_dicts() for t in
              ("calls", "tools", "loops", "processes", "connections", "exchanges", "events")}
    out[path] = {"tables": tables, "warnings": cap.warnings,
                 "compiled": pipeline.__file__.endswith(".so")}
json.dump(out, sys.stdout, default=repr, sort_keys=True)
"""


def _tables(pure: bool, jobs: int) -> dict[str, object]:
    env = {**os.environ, "HERON_PURE": "1" if pure else "0"}
    run = subprocess.run(
        [sys.executable, "-c", _DUMP, str(jobs), *FIXTURES],
        capture_output=True,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
    )
    out: dict[str, object] = json.loads(run.stdout)
    return out


@pytest.mark.parametrize("jobs", [1, 2])
def test_compiled_and_source_modules_make_the_same_tables(jobs: int) -> None:
    if accel.disabled() or "compiled" not in accel.status().values():
        pytest.skip("no compiled modules to compare (python -m heron.accel build)")
    pure, compiled = _tables(True, jobs), _tables(False, jobs)
    assert len(pure) == len(FIXTURES) > 10
    for path in FIXTURES:
        p, c = pure[path], compiled[path]
        assert isinstance(p, dict) and isinstance(c, dict)
        assert (p["compiled"], c["compiled"]) == (False, True)
        assert p["tables"] == c["tables"], path
        assert p["warnings"] == c["warnings"], path


def test_declarations_are_part_of_what_a_copy_is_built_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # builder.py has Cython declarations next to it (builder.pxd): a copy
    # built before either file changed must not load.
    monkeypatch.setattr(accel, "_PACKAGE_ROOT", tmp_path)
    mod = tmp_path / "pkg" / "m.py"
    mod.parent.mkdir()
    mod.write_bytes(b"x = 1\n")
    plain = accel.module_source("pkg.m")
    assert plain == b"x = 1\n"
    mod.with_suffix(".pxd").write_bytes(b"cdef class A:\n    cdef public object a\n")
    declared = accel.module_source("pkg.m")
    assert declared.startswith(plain) and declared != plain
    mod.with_suffix(".pxd").write_bytes(b"cdef class A:\n    cdef public object b\n")
    assert accel.compiled_path("pkg.m", accel.module_source("pkg.m")) != accel.compiled_path(
        "pkg.m", declared
    )
    monkeypatch.undo()
    real = accel.module_source("heron.analyze.reassembly.builder")
    assert (ROOT / "heron/analyze/reassembly/builder.pxd").read_bytes() in real


def _declared(pxd: Path) -> dict[str, set[str]]:
    """The fields each ``cdef class`` of a .pxd declares."""
    out: dict[str, set[str]] = {}
    cls = None
    for line in pxd.read_text().splitlines():
        if line.startswith("cdef class "):
            cls = line.removeprefix("cdef class ").rstrip(":").strip()
            out[cls] = set()
        elif cls and line.strip().startswith("cdef public object "):
            names = line.strip().removeprefix("cdef public object ")
            out[cls] |= {n.strip() for n in names.split(",")}
    return out


def _assigned(py: Path) -> dict[str, set[str]]:
    """The attributes each class of a module sets on ``self``."""
    import ast

    out: dict[str, set[str]] = {}
    for node in ast.parse(py.read_text()).body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = {
                t.attr
                for t in ast.walk(node)
                if isinstance(t, ast.Attribute)
                and isinstance(t.ctx, ast.Store)
                and isinstance(t.value, ast.Name)
                and t.value.id == "self"
            }
    return out


@pytest.mark.parametrize("pxd", sorted((ROOT / "heron").rglob("*.pxd")), ids=lambda p: p.name)
def test_declarations_match_the_classes(pxd: Path) -> None:
    # An extension type has no instance dict: an attribute the .py sets
    # but the .pxd does not declare fails only once compiled.  Say so here,
    # compiled or not.
    assigned = _assigned(pxd.with_suffix(".py"))
    declared = _declared(pxd)
    assert declared
    for cls, fields in declared.items():
        assert fields == assigned[cls], f"{pxd.name}: {cls} fields differ from {cls} in the .py"
