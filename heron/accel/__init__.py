"""Optional compiled copies of the hot analysis modules (Cython), never stale.

The analysis is plain Python.  Its hottest modules -- the record reader,
HTTP reassembly, the provider parsers and the table builder -- can also be
compiled, unchanged, with Cython in pure-Python mode (``bench/`` scenario 5:
``heron calls`` about 15% faster; with the declarations below, reassembly
takes about two thirds of the time it takes as plain Python).  ``make setup`` does
that.  A few modules have Cython declarations next to them (``builder.pxd``,
``http1.pxd``): their state classes become extension types whose
attributes are struct fields, all typed ``object``, so Python semantics are
kept.  Source stays the single truth:

* a compiled module is stored as ``heron/_compiled/<module>.<hash>.<abi>.so``,
  where ``<hash>`` is the SHA-256 (first 16 hex digits) of the ``.py`` source
  it was compiled from, and of its ``.pxd`` declarations where it has them
  (:func:`module_source`);
* :class:`Finder`, installed by ``import heron``, loads it in place of the
  source only while that source is byte-for-byte the same.  Edit a module
  and its source runs again, at once, until the next ``make setup``: a stale
  build can slow Heron down, never change what it does;
* ``HERON_PURE=1`` turns the compiled modules off altogether (the test
  suite checks that both ways give the same tables).

Build with ``python -m heron.accel build`` (needs Cython and a C compiler:
the ``fast`` extra, part of ``dev``); ``python -m heron.accel status``
lists what is in use.

Examples
--------
>>> name = "heron.analyze.clock"
>>> compiled_path(name, b"x = 1\\n").name.startswith("heron.analyze.clock.9e26bf369911c45c.")
True
>>> name in MODULES
True
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: The modules compiled: where a large capture's analysis spends its time.
#: (No package ``__init__``: a compiled package would lose its search path.)
MODULES = (
    "heron.format.reader",
    "heron.analyze.reassembly.builder",
    "heron.analyze.reassembly.http1",
    "heron.analyze.reassembly.http2",
    "heron.analyze.reassembly.sse",
    "heron.analyze.reassembly.streams",
    "heron.analyze.pipeline",
    "heron.analyze.exchange",
    "heron.analyze.build",
    "heron.analyze.conversations",
    "heron.analyze.agents",
    "heron.analyze.clock",
    "heron.analyze.providers.base",
    "heron.analyze.providers.history",
    "heron.analyze.providers.openai_chat",
    "heron.analyze.providers.openai_responses",
    "heron.analyze.providers.anthropic",
    "heron.analyze.providers.gemini",
    "heron.analyze.providers.ollama",
)
#: Where compiled modules live (inside the package; not in git).
COMPILED_DIR = Path(__file__).resolve().parent.parent / "_compiled"
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent
#: Cython directives: plain Python semantics (annotations are not C types; an
#: attribute of a variable a ``.pxd`` types that is None raises, as in Python).
_DIRECTIVES = {"language_level": 3, "annotation_typing": False, "nonecheck": True}


def disabled() -> bool:
    """Whether ``HERON_PURE`` asks for the source modules only.

    Examples
    --------
    >>> isinstance(disabled(), bool)
    True
    """
    return os.environ.get("HERON_PURE", "") not in ("", "0")


def source_hash(source: bytes) -> str:
    """The 16 hex digits that tie a compiled module to its source.

    Examples
    --------
    >>> source_hash(b"x = 1\\n")
    '9e26bf369911c45c'
    """
    return hashlib.sha256(source).hexdigest()[:16]


def compiled_path(name: str, source: bytes) -> Path:
    """Where module ``name`` compiled from ``source`` is (or would be) stored.

    Examples
    --------
    >>> compiled_path("heron.analyze.clock", b"").parent.name
    '_compiled'
    """
    return COMPILED_DIR / f"{name}.{source_hash(source)}{_SUFFIX}"


def _source_file(name: str) -> Path:
    return _PACKAGE_ROOT.joinpath(*name.split(".")).with_suffix(".py")


def module_source(name: str) -> bytes:
    """What module ``name`` is compiled from: its ``.py``, then its ``.pxd`` if it has one.

    A few modules have Cython declarations next to them (``builder.pxd``
    declares the reassembler's state classes as extension types, so their
    attributes are struct fields rather than dictionary lookups).  They are
    plain-Python-compatible: the ``.py`` runs the same without them.  Both
    files are hashed, so editing either makes the compiled copy stale.

    Examples
    --------
    >>> src = module_source("heron.analyze.reassembly.builder")
    >>> b"\\0heron.accel pxd\\0" in src
    True
    >>> b"heron.accel pxd" in module_source("heron.analyze.clock")
    False
    """
    py = _source_file(name)
    src = py.read_bytes()
    pxd = py.with_suffix(".pxd")
    if pxd.is_file():
        src += b"\0heron.accel pxd\0" + pxd.read_bytes()
    return src


class Finder:
    """Loads the compiled copy of a :data:`MODULES` module whose source it matches.

    A meta path finder by protocol (``find_spec``), not by subclassing
    ``importlib.abc.MetaPathFinder``: importing that module costs ~6 ms
    (``importlib.resources``) before every command's first record.

    Anything else (another module, no compiled copy, a source edited since
    it was built) falls through to the normal import of the ``.py`` file.

    Examples
    --------
    >>> Finder().find_spec("json", None) is None
    True
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for the compiled module, or None (the source is imported).

        Examples
        --------
        >>> import heron.analyze
        >>> spec = Finder().find_spec("heron.analyze.clock", heron.analyze.__path__)
        >>> spec is None or spec.origin.endswith(".so")
        True
        """
        if fullname not in MODULES or disabled():
            return None
        try:  # the same source that status() and build() hash
            so = compiled_path(fullname, module_source(fullname))
        except OSError:
            return None
        if not so.is_file():
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, so, loader=loader)


def install() -> None:
    """Put :class:`Finder` first on ``sys.meta_path`` (once; ``import heron`` does this).

    Examples
    --------
    >>> install(); install()
    >>> sum(isinstance(f, Finder) for f in sys.meta_path)
    1
    """
    if not any(isinstance(f, Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, Finder())


def status() -> dict[str, str]:
    """Per module: ``compiled`` (in use), ``stale`` (built from other source), ``source`` (none).

    Examples
    --------
    >>> sorted(set(status().values()) - {"compiled", "stale", "source"})
    []
    """
    out: dict[str, str] = {}
    for name in MODULES:
        if compiled_path(name, module_source(name)).is_file():
            out[name] = "compiled"
        elif COMPILED_DIR.is_dir() and any(COMPILED_DIR.glob(f"{name}.*{_SUFFIX}")):
            out[name] = "stale"
        else:
            out[name] = "source"
    return out


def build(names: Sequence[str] = MODULES, *, jobs: int | None = None) -> list[str]:
    """Compile the modules whose current source has no compiled copy; return their names.

    Older copies of a rebuilt module are removed.  Raises ImportError
    without Cython, and whatever the compiler raises if it fails.

    Examples
    --------
    ::

        >>> build()          # doctest: +SKIP
        ['heron.analyze.build']
    """
    todo = []
    for name in names:
        src = module_source(name)
        if not compiled_path(name, src).is_file():
            todo.append((name, src))
    if not todo:
        return []
    import shutil
    import tempfile

    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    COMPILED_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heron-accel-") as tmp:
        exts = [
            Extension(name, [str(_source_file(name))], extra_compile_args=["-O2", "-g0", "-w"])
            for name, _ in todo
        ]
        dist = Distribution(
            {
                "ext_modules": cythonize(  # type: ignore[no-untyped-call]
                    exts,
                    compiler_directives=_DIRECTIVES,
                    build_dir=str(Path(tmp) / "c"),
                    quiet=True,
                )
            }
        )
        cmd = dist.get_command_obj("build_ext")
        cmd.build_lib = str(Path(tmp) / "lib")
        cmd.build_temp = str(Path(tmp) / "obj")
        cmd.parallel = jobs or os.cpu_count() or 1
        cmd.ensure_finalized()
        cmd.run()
        for name, src in todo:
            built = Path(cmd.get_ext_fullpath(name))
            for old in COMPILED_DIR.glob(f"{name}.*{_SUFFIX}"):
                old.unlink()
            dest = compiled_path(name, src)
            part = dest.with_name(f".{dest.name}.{os.getpid()}")  # never loaded half-written
            shutil.copyfile(built, part)
            os.replace(part, dest)
    return [name for name, _ in todo]
