"""Every figure really renders: each DOT file with Graphviz's `dot`, each Mermaid block with the
real Mermaid parser (Node, jsdom and the `mermaid` package pinned in tests/mermaid).

Locally the tests skip when a tool is absent, saying how to install it; under CI (CI set in the
environment, or LBRSPEC_REQUIRE_TOOLS as .ci/run sets it) a missing tool is a failure, because .ci/run
installs both."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import explored, model
from lbrspec.analysis.liveness import check_liveness
from lbrspec.analysis.stategraph import StateGraph
from lbrspec.diagrams import dot, mermaid
from lbrspec.diagrams.machines import choose_view, machine_diagram
from lbrspec.diagrams.projection import project
from lbrspec.diagrams.sequence import sequence
from lbrspec_models.guest_lbr import VARIANTS, liveness

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MERMAID_DIR = ROOT / "tests" / "mermaid"


def _missing(what: str, how: str) -> None:
    if os.environ.get("CI") or os.environ.get("LBRSPEC_REQUIRE_TOOLS"):
        pytest.fail(f"{what} is not installed, but CI must run this test: {how}")
    pytest.skip(f"{what} is not installed ({how})")


def need_dot() -> str:
    exe = shutil.which("dot")
    if exe is None:
        _missing("Graphviz 'dot'", "apt-get install graphviz")
    return exe


def need_mermaid() -> list[str]:
    node = shutil.which("node")
    if node is None or not (MERMAID_DIR / "node_modules" / "mermaid").is_dir():
        _missing("the Mermaid parser", "npm ci --prefix tests/mermaid (needs node)")
    return [node, str(MERMAID_DIR / "parse.mjs")]


def mermaid_parse(texts: list[str]) -> list[dict]:
    p = subprocess.run(need_mermaid(), input=json.dumps(texts), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert len(out) == len(texts)
    return out


def dot_render(text: str) -> subprocess.CompletedProcess:
    return subprocess.run([need_dot(), "-Tsvg"], input=text, capture_output=True, text=True, timeout=120)


@functools.lru_cache(maxsize=None)
def figures() -> dict[str, tuple[str, str]]:
    """name -> (mermaid, dot) for fresh figures of a small instance: every machine, two
    projections (one summarised), every variant's counterexample and a lasso."""
    g = StateGraph(explored("v8", 1, 2, 1, keep_graph=True))
    out = {}
    for m in g.instance.model.machines:
        d = machine_diagram(g, choose_view(g, m.name))
        out[f"machine {m.name}"] = (mermaid.state_diagram(d), dot.state_diagram(d))
    for terms, cap in ((["ev[v0]", "passthru[v0]", "owns(v0, cpu[v0])", "pinned_holds(cpu[v0])"], 60),
                       (["pc[v0]", "sel[cpu[v0]]", "hu[h0]", "target[h0]"], 8)):
        d = project(g, terms, cap).diagram
        out[f"projection {terms}"] = (mermaid.state_diagram(d), dot.state_diagram(d))
    for name, v in VARIANTS.items():
        if v.kind == "design":
            continue
        r = explored(name, 1, 2, 1)
        if r.violation is not None:
            d = sequence(r.violation.trace, model(name))
            out[f"trace {name}"] = (mermaid.sequence_diagram(d), dot.sequence_diagram(d))
    ng = StateGraph(explored("never-free", 1, 2, 1, keep_graph=True))
    (res,) = check_liveness(ng, liveness(model("never-free"))[1])
    d = sequence(res.lasso, model("never-free"))
    out["lasso never-free"] = (mermaid.sequence_diagram(d), dot.sequence_diagram(d))
    return out


def docs_mermaid_blocks() -> dict[str, str]:
    out = {}
    for path in sorted(DOCS.rglob("*.md")):
        for i, m in enumerate(re.finditer(r"```mermaid\n(.*?)```", path.read_text(), re.S)):
            out[f"{path.relative_to(ROOT)} #{i}"] = m.group(1)
    return out


@pytest.mark.long
def test_every_dot_file_in_docs_renders_with_graphviz():
    files = sorted(DOCS.rglob("*.dot"))
    assert len(files) >= 20
    for f in files:
        p = dot_render(f.read_text())
        assert p.returncode == 0, f"{f}: {p.stderr}"
        assert "<svg" in p.stdout


@pytest.mark.long
def test_every_fresh_dot_figure_renders_with_graphviz():
    for name, (_, text) in figures().items():
        p = dot_render(text)
        assert p.returncode == 0, f"{name}: {p.stderr}"


def test_graphviz_does_reject_a_broken_figure():
    assert dot_render("digraph { a -> ; }").returncode != 0


@pytest.mark.long
def test_every_mermaid_block_in_docs_parses_with_the_real_parser():
    blocks = docs_mermaid_blocks()
    assert len(blocks) >= 20
    names = list(blocks)
    for name, r in zip(names, mermaid_parse([blocks[n] for n in names])):
        assert r["ok"], f"{name}: {r.get('error')}"


@pytest.mark.long
def test_every_fresh_mermaid_figure_parses_with_the_real_parser():
    figs = figures()
    names = list(figs)
    results = mermaid_parse([figs[n][0] for n in names])
    for name, r in zip(names, results):
        assert r["ok"], f"{name}: {r.get('error')}"
        assert r["type"] == ("sequence" if name.startswith(("trace", "lasso")) else "stateDiagram"), name


@pytest.mark.long
def test_the_mermaid_parser_does_reject_broken_diagrams():
    bad = ["stateDiagram-v2\n    s0 --> : x\n", "sequenceDiagram\n    G->>: x\n", "flowchart LR\n    a --> --> b\n"]
    assert [r["ok"] for r in mermaid_parse(bad)] == [False, False, False]
