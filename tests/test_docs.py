"""`lbrspec docs`: docs/ is generated from the model, committed fresh, deterministic, and never
touches hand-written files; `--check` names what is stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

# every test here reads the generated docs (minutes to compute, once per module)
pytestmark = pytest.mark.long

from lbrspec.cli import main
from lbrspec.docgen import apply, is_generated, plan
from lbrspec.docgen import generate as gen
from lbrspec.docgen.markdown import MARKER_MD, cell, code
from lbrspec.lang.pretty import show
from lbrspec.errors import InputError
from lbrspec_models.guest_lbr import LIVENESS_VARIANTS, VARIANTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def generated():
    facts = gen.compute()
    return facts, gen.render(facts)


def test_the_committed_docs_are_what_the_model_generates(generated):
    _, files = generated
    p = plan(DOCS, files)
    assert p.blocked == []
    assert p.stale == [], f"docs/ is stale, run `lbrspec docs`: {p.stale}"


def test_the_hand_written_architecture_page_is_left_alone(generated):
    _, files = generated
    for page in ("architecture.md", "language.md"):
        assert page not in files
        assert not is_generated(DOCS / page)
        assert f"]({page})" in files["README.md"]


def test_liveness_status_names_the_values_checked_or_none():
    """The catalogue's status of a liveness property: its parameter's values, each binding with
    several parameters, and a plain 'holds' for a property without parameters."""
    from types import SimpleNamespace as R

    assert gen._holds_for([R(binding={"v": "v0"}, vacuous=False), R(binding={"v": "v1"}, vacuous=True)]) \
        == "holds for v0, v1 (VACUOUSLY)"
    assert gen._holds_for([R(binding={"v": "v0", "p": "p1"}, vacuous=False)]) == "holds for (v=v0, p=p1)"
    assert gen._holds_for([R(binding={}, vacuous=False)]) == "holds"
    assert gen._holds_for([R(binding={}, vacuous=True)]) == "holds (VACUOUSLY)"


def test_rendering_is_deterministic_and_free_of_timings_and_dates(generated):
    facts, files = generated
    assert gen.render(facts) == files
    for name, text in files.items():
        assert not re.search(r"\d+\.\d+ ?s\b|\bseconds\b|20\d\d-\d\d-\d\d", text), name


def test_one_page_per_machine_with_its_diagram_variables_and_patches(generated):
    facts, files = generated
    for m in facts.model.machines:
        page = files[f"machines/{m.name}.md"]
        assert page.startswith(MARKER_MD)
        if m.vars:
            assert "```mermaid\nstateDiagram-v2" in page and f"{m.name}.dot" in page
        else:  # no state of its own in this variant (vmcs and guest in v8): a sentence, not an empty diagram
            assert "no state of its own" in page and "```mermaid" not in page
        for v in m.vars:
            assert f"`{v.name}`" in page
        for t in m.transitions:
            assert f"`{t.name}`" in page
        assert len(facts.machine_figures[m.name].nodes) <= 20


def test_the_catalogue_lists_every_property_with_patch_engine_and_status(generated):
    facts, files = generated
    cat = files["properties.md"]
    for p in list(facts.model.invariants) + list(facts.model.goals) + list(facts.props):
        row = next(line for line in cat.splitlines() if line.startswith(f"| `{p.name}` |"))
        assert p.patch in row and "explicit-state explorer" in row
        assert ("holds" in row) or ("reached" in row)
    for name, v in {**VARIANTS, **LIVENESS_VARIANTS}.items():
        if v.expected:
            assert f"[{name}](gallery/{name}.md)" in cat


def test_the_gallery_has_each_variant_as_a_sequence_diagram_and_as_text(generated):
    facts, files = generated
    broken = [n for n, v in VARIANTS.items() if v.kind != "design" and v.holds is None]
    for name in broken + list(LIVENESS_VARIANTS):
        page = files[f"gallery/{name}.md"]
        assert "```mermaid\nsequenceDiagram" in page and "```text\nTrace of guest_lbr" in page
        assert f"gallery/{name}.dot" in files
    for name in [n for n, v in VARIANTS.items() if v.holds is not None]:  # expected to hold: no trace
        assert "No counterexample was found" in files[f"gallery/{name}.md"]
    assert "loop steps" in files["gallery/never-free.md"]


def test_projections_stay_readable(generated):
    facts, _ = generated
    for _stem, _title, p in facts.projections:
        assert len(p.diagram.nodes) <= 60


def test_engines_present_are_detected(monkeypatch):
    real = gen.importlib.util.find_spec
    monkeypatch.setattr(gen.importlib.util, "find_spec", lambda name: object() if name == "lbrspec.smt" else real(name))
    eng = gen.engines()
    assert "z3" in eng and "explicit" in eng


def test_hand_written_files_are_never_overwritten(tmp_path):
    (tmp_path / "README.md").write_text("# my own notes\n")
    p = plan(tmp_path, {"README.md": f"{MARKER_MD}\n\n# generated\n"})
    assert p.blocked == ["README.md"]
    with pytest.raises(InputError, match="hand-written"):
        apply(p)
    assert (tmp_path / "README.md").read_text() == "# my own notes\n"


def test_generated_files_no_longer_produced_are_removed(tmp_path):
    old = tmp_path / "machines" / "gone.md"
    old.parent.mkdir()
    old.write_text(f"{MARKER_MD}\nold\n")
    (tmp_path / "notes.md").write_text("hand-written\n")
    p = plan(tmp_path, {"README.md": f"{MARKER_MD}\nnew\n"})
    assert p.remove == ["machines/gone.md"] and p.write == ["README.md"]
    apply(p)
    assert not old.exists() and not old.parent.exists() and (tmp_path / "notes.md").exists()


def test_docs_check_exits_1_and_names_stale_files(generated, tmp_path, monkeypatch, capsys):
    facts, _ = generated
    monkeypatch.setattr("lbrspec.cli.docs.compute", lambda say=None, source=None: facts)
    d = tmp_path / "docs"
    d.mkdir()
    (d / "architecture.md").write_text("# hand-written\n")
    assert main(["docs", "--dir", str(d), "--quiet"]) == 0
    assert main(["docs", "--check", "--dir", str(d), "--quiet"]) == 0
    assert "is fresh" in capsys.readouterr().out
    (d / "machines" / "kvm.md").write_text((d / "machines" / "kvm.md").read_text() + "edited\n")
    (d / "gallery" / "never-free.dot").unlink()
    (d / "old.md").write_text(f"{MARKER_MD}\nold\n")
    assert main(["docs", "--check", "--dir", str(d), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"differs: {d}/machines/kvm.md" in out and f"missing: {d}/gallery/never-free.dot" in out
    assert f"no longer generated: {d}/old.md" in out
    assert main(["docs", "--dir", str(d), "--quiet"]) == 0
    assert main(["docs", "--check", "--dir", str(d), "--quiet"]) == 0
    assert (d / "architecture.md").read_text() == "# hand-written\n" and not (d / "old.md").exists()


def test_the_catalogue_gives_each_property_its_formula(generated):
    facts, files = generated
    cat = files["properties.md"]
    for inv in facts.model.invariants:
        row = next(line for line in cat.splitlines() if line.startswith(f"| `{inv.name}` |"))
        assert cell(code(gen.formula(inv))) in row
    for g in facts.model.goals:
        row = next(line for line in cat.splitlines() if line.startswith(f"| `{g.name}` |"))
        assert cell(code(show(g.body))) in row


def test_each_gallery_projection_exists_and_highlights_the_violation(generated):
    facts, files = generated
    drawn = {name: vf for name, vf in facts.variants.items() if vf.projection is not None}
    assert "v7-write-path" in drawn
    for name, vf in drawn.items():
        page = files[f"gallery/{name}.md"]
        assert "## Projection on what the property reads" in page and f"gallery/{name}-projection.dot" in files
        for t in vf.projection.terms:
            assert f"`{t}`" in page
        lit = [n for n in vf.projection.diagram.nodes if n.highlight]
        for n in lit:
            assert f"class {n.id} highlighted" in page and "violate" in n.note
    v7 = drawn["v7-write-path"].projection
    (bad,) = [n for n in v7.diagram.nodes if n.highlight]
    assert "pc[v0]=ACCESS" in bad.lines and any(x.startswith("not owns(v0") for x in bad.lines)


def test_the_v7_gallery_page_shows_the_race_window(generated):
    _, files = generated
    page = files["gallery/v7-write-path.md"]
    assert "rect rgba(255, 120, 120" in page and "I-)K: " in page and "false conjunct: " in page
