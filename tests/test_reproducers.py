"""``reproducers.md`` of upstream_lbr: generated from the model's shortest counterexamples and the
per-action annotations of ``models/upstream_repro.py``, one section per violated property per
variant, every step annotated (a step without an annotation is an error, not a gap in the page),
and the committed ``docs/upstream_lbr/`` is what ``lbrspec docs`` generates.

The fast tests compute only what the page needs (each variant's counterexamples, about ten
seconds); the whole of ``docs/upstream_lbr/`` (graph analysis, liveness, proofs: minutes) is
compared by a slow test (``python -m pytest -m slow``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lbrspec_models import upstream_lbr, upstream_repro

from lbrspec.cli.docs import docs_dir
from lbrspec.docgen import apply, plan
from lbrspec.docgen import reproducers as rep
from lbrspec.docgen.markdown import MARKER_MD
from lbrspec.errors import InputError
from lbrspec.modelref import load_model

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "upstream_lbr"


@pytest.fixture(scope="module")
def source():
    return load_model("upstream_lbr")


@pytest.fixture(scope="module")
def traces(source):
    return rep.collect(source)


@pytest.fixture(scope="module")
def page(source, traces):
    return rep.render(source, traces, "upstream_lbr")


def test_the_model_names_its_reproducer_data(source):
    assert source.reproducers() is upstream_repro
    assert upstream_lbr.REPRODUCERS == "lbrspec_models.upstream_repro"


@pytest.mark.parametrize("variant", list(upstream_lbr.VARIANTS))
@pytest.mark.long
def test_every_action_of_every_variant_has_an_annotation(source, variant):
    assert rep.unannotated(source, source.build(variant)) == []


@pytest.mark.long
def test_the_committed_page_is_what_the_model_generates(page):
    assert (DOCS / "reproducers.md").read_text(encoding="utf-8") == page, \
        "docs/upstream_lbr/reproducers.md is stale: run `lbrspec docs --model upstream_lbr -o docs/upstream_lbr`"


@pytest.mark.long


def test_one_section_per_violated_property_per_variant_with_every_step_annotated(source, traces, page):
    assert set(traces) == set(upstream_lbr.VARIANTS)
    assert set(traces["upstream"]) == set(upstream_lbr.MERGED_DESIGN_BREAKS)
    secs = rep.sections(source, traces)
    assert [(s.variant, s.prop) for s in secs] == [(v, p) for v, ps in traces.items() for p in ps]
    by_key = {(s.variant, s.prop): s for s in secs}
    anchors = rep.anchors(page)
    assert len(anchors) == len(secs) == len(set(anchors))
    for s in secs:
        trace = traces[s.variant][s.prop]
        assert s.anchor in anchors and s.length == len(trace)
        assert f"### `{s.prop}` ({s.label}): {s.length} steps" in page
        if s.same_as:  # shown once, in the default variant's section: the very same steps
            ref = by_key[(s.same_as, s.prop)]
            assert not s.steps and ref.steps and not ref.same_as
            assert [x.label for x in ref.steps] == [st.label() for st in trace.steps]
            continue
        assert [x.label for x in s.steps] == [st.label() for st in trace.steps]
        for x in s.steps:
            assert x.who and x.does and x.functions and x.commit, (s.variant, s.prop, x.label)
            assert "{" not in x.does + x.functions + (x.command or "") + (x.lands or ""), x.does
            assert f"| {x.number} | {x.who} |" in page
        assert s.observe, f"{s.prop}: PROPERTIES has no observation"


@pytest.mark.long


def test_the_reproducers_name_the_host_commands_and_where_preemptions_and_ipis_land(source, traces):
    secs = {(s.variant, s.prop): s for s in rep.sections(source, traces)}
    i8 = secs[("upstream", "host_pinned_wins")]
    assert any(x.command == "perf record -b -e instructions:D -C 1 -- sleep 30" for x in i8.steps)
    assert any(x.lands == "the perf install IPI is handled on CPU 1" for x in i8.steps)
    i7 = secs[("upstream", "records_kept_across_resched")]
    assert any(x.lands and "preempted" in x.lands for x in i7.steps)


@pytest.mark.long


def test_a_fix_undone_or_a_proposal_applied_is_described_by_its_own_annotation(source, traces):
    secs = {(s.variant, s.prop): s for s in rep.sections(source, traces)}
    oops = secs[("before-67b45af946ec", "host_no_oops")]
    assert "inverted test" in oops.steps[4].does and "fixed by 67b45af946ec" in oops.steps[4].commit
    leak = secs[("proposal-host-pinned-first", "guest_reads_own_or_zero")]
    assert any("proposal" in x.commit for x in leak.steps)
    assert not any("proposal" in x.commit or "fixed by" in x.commit for s in secs.values() for x in s.steps
                   if s.variant == "upstream")


@pytest.mark.long


def test_the_delay_release_note_still_describes_the_model(traces):
    """VARIANT_NOTES says the delay-release proposal delays the release by one cleanup, so its I7
    trace is longer than upstream's (13 steps against 10) and has one more reschedule."""
    delay = traces["proposal-delay-release"]["records_kept_across_resched"]
    up = traces["upstream"]["records_kept_across_resched"]
    assert (len(delay), len(up)) == (13, 10)
    count = lambda t: sum(s.action == "sched_in" for s in t.steps)  # noqa: E731
    assert count(delay) == count(up) + 1
    assert "13 steps instead of upstream's 10" in upstream_repro.VARIANT_NOTES["proposal-delay-release"]


def test_a_step_without_annotation_is_an_error(source, traces, monkeypatch):
    monkeypatch.delitem(upstream_repro.ACTIONS, "vmenter")
    with pytest.raises(InputError, match=r"no annotation for step vmenter\("):
        rep.sections(source, traces)
    assert "vmenter" in rep.unannotated(source)


def test_an_annotation_restricted_to_other_values_does_not_cover_a_step(source, traces, monkeypatch):
    only_false = [a for a in upstream_repro.ACTIONS["guest_lbr_exit"] if a.when.get("fail") is False]
    monkeypatch.setitem(upstream_repro.ACTIONS, "guest_lbr_exit", only_false)
    # which pCPU the trace names depends on the canonical representatives symmetry reduction stores
    with pytest.raises(InputError, match=r"guest_lbr_exit\(v=v0, p=p\d, fail=True\)"):
        rep.sections(source, traces)


def test_a_nested_docs_set_is_neither_stale_nor_removed_by_the_outer_one(tmp_path, source):
    outer, inner = tmp_path, tmp_path / "upstream_lbr"
    inner.mkdir()
    (outer / "README.md").write_text(f"{MARKER_MD}\n\n# The guest_lbr model (generated)\n")
    (inner / "README.md").write_text(f"{MARKER_MD}\n\n# The upstream_lbr model (generated)\n")
    (inner / "reproducers.md").write_text(f"{MARKER_MD}\nsteps\n")
    p = plan(outer, {"README.md": f"{MARKER_MD}\n\n# The guest_lbr model (generated)\n"})
    assert p.stale == [] and p.blocked == []
    apply(p)
    assert (inner / "reproducers.md").exists()
    assert docs_dir(source, "upstream_lbr", str(inner)) == inner  # its own folder: accepted
    with pytest.raises(InputError, match="holds the generated docs of model upstream_lbr"):
        docs_dir(load_model("guest_lbr"), "guest_lbr", str(inner))


@pytest.mark.slow
def test_the_committed_upstream_lbr_docs_are_what_the_model_generates(source):
    from lbrspec.docgen import generate as gen

    p = plan(DOCS, gen.render(gen.compute(source=source)))
    assert p.blocked == []
    assert p.stale == [], f"docs/upstream_lbr/ is stale, run `lbrspec docs --model upstream_lbr -o docs/upstream_lbr`: {p.stale}"
