"""Both notebooks run top to bottom against the real fixture captures.

The kernel is this venv's Python, registered under a private name in a temp
directory (``JUPYTER_PATH``), so the user's own kernels are never touched.
The notebooks read their inputs from ``HERON_*`` environment variables, which
the kernel inherits.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import heron

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
FIXTURES = Path(os.environ.get("HERON_TEST_FIXTURES", ROOT / "tests" / "fixtures"))
KERNEL = "heron-test-venv"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture()
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    spec_dir = tmp_path / "jupyter" / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "heron test venv",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # the kernel must import this checkout's heron whatever its cwd
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the inline backend makes the PNGs
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    return tmp_path


def _run(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=240,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    try:
        client.execute()
    except CellExecutionError as e:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{name}: a cell failed:\n{e}")
    return nb


def _outputs(nb: nbformat.NotebookNode) -> list[dict[str, object]]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(1 for o in _outputs(nb) if "image/png" in o.get("data", {}))


def _text(nb: nbformat.NotebookNode) -> str:
    parts: list[str] = []
    for o in _outputs(nb):
        if o.get("output_type") == "stream":
            parts.append(str(o.get("text", "")))
        for mime in ("text/plain", "text/markdown"):
            parts.append(str(o.get("data", {}).get(mime, "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["triage.ipynb", "compare-runs.ipynb"])
def test_committed_notebooks_are_stripped(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name}: committed outputs"
            assert cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one papermill 'parameters' cell"


def test_triage_runs_on_a_fixture(kernel_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = FIXTURES / "variant_b.heron"
    assert capture.exists(), f"fixture missing: {capture}"

    monkeypatch.setenv("HERON_CAPTURE", str(capture))
    nb = _run("triage.ipynb")
    assert _images(nb) >= 3  # timeline, tokens/latency, tool sequence
    text = _text(nb)
    cap = heron.open(capture)
    [signature] = cap.loops.get_column("signature").to_list()
    assert f"**repeated_tool_call** x4: `{signature}`" in text  # the loops cell
    longest = (
        cap.calls.group_by("conversation_id")
        .len()
        .sort(["len", "conversation_id"], descending=[True, False])
    )
    assert f"### Conversation {longest.item(0, 'conversation_id')}: " in text  # drill-down
    for name in set(cap.tools.get_column("name")):
        assert f"tool `{name}`" in text


def test_triage_counts_a_gateway_call_once(
    kernel_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent behind a traced local gateway: 3 calls, each seen 3 times on the wire."""
    monkeypatch.setenv("HERON_CAPTURE", str(FIXTURES / "proxied.heron"))
    nb = _run("triage.ipynb")
    text = _text(nb)
    assert "3 LLM calls (+6 more views via a gateway)" in text
    summary = next(
        str(o["data"]["text/plain"])
        for c in nb.cells
        if c.cell_type == "code" and "summary = (" in c.source
        for o in c.outputs
        if "text/plain" in o.get("data", {})
    )
    # one row, the agent's: the gateway's views of its calls are not a second agent
    assert summary.startswith("shape: (1, "), summary


def test_compare_runs_on_the_fixtures(kernel_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERON_BASE", str(FIXTURES / "variant_a.heron"))
    monkeypatch.setenv("HERON_HEAD", str(FIXTURES / "variant_b.heron"))
    monkeypatch.setenv("HERON_GATES", "loops>0;calls>+100")
    nb = _run("compare-runs.ipynb")
    assert _images(nb) >= 2  # tokens per turn, side-by-side tool timeline
    text = _text(nb)
    assert "FAIL  loops>0 matched" in text
    assert "ok    calls>+100 passed" in text
    assert "Heron diff: ❌ 1 of 2 gates failed" in text
