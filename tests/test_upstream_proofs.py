"""Inductive proofs of the merged-design model (``models/upstream_lbr.py``) with the lemmas of
``proofs/upstream_lbr.py``: on the default variant, ``lbrspec prove`` proves every invariant the
design keeps, on the default instance and for every size, and reports each one it breaks as
violated, with a counterexample to induction the explorer shows reachable; every lemma holds in
every reachable state.

What the merged design keeps is written here, not read from the model.  The default run proves
``upstream`` once per instance kind (about 20 s in all); every variant's proof, the lemmas on
bigger instances and the need for each lemma take minutes and run only with ``-m slow``.
"""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest
from lbrspec_models import upstream_lbr
from lbrspec_proofs.upstream_lbr import groups, lemmas
from test_upstream_lbr import BREAKS

from lbrspec.cli import main
from lbrspec.cli.prove import print_result
from lbrspec.explicit.evaluate import holds
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.replay import replay
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.modelref import load_model
from lbrspec.smt.fragment import analyse
from lbrspec.smt.induction import prove

#: The invariants of the merged design (variant ``upstream``) that hold, in declaration order.
KEPT = ["passthrough_iff_active", "kvm_touches_lbr_only_when_active", "vlbr_event_only_with_lbr_enabled",
        "lbr_enabled_only_when_consistent",
        "release_only_with_debugctl_lbr_clear", "no_refresh_after_run", "lbr_select_restored", "one_vlbr_per_pcpu",
        "host_no_oops", "host_debugctl_restored", "host_debugctl_write_accepted"]
#: The ones it breaks, each with a counterexample to induction that is reachable.
BROKEN = ["guest_reads_own_or_zero", "records_kept_across_resched", "host_pinned_wins", "records_kept_after_freeze",
          "host_sees_no_guest_branches"]
#: The lemmas, by group, as `prove` lists them on `upstream` (the freeze group is the keep-on-freeze proposal's).
LEMMAS = {
    "scheduling": ["one_thread_per_pcpu", "guest_mode_runs"],
    "kvm_handler": ["access_runs", "handler_has_event"],
    "vlbr_event": ["active_event_runs", "inactive_event_out"],
    "userspace": ["lbr_fmt_only_on_legacy_host", "passthrough_after_run", "passthrough_with_lbr_enabled"],
    "lbr_ctxsw": ["kept_select_saved"],
    "freeze": [],
}
FREEZE = ["froze_is_pending", "froze_after_run", "froze_event_live", "froze_records_in_lbr", "froze_records_saved"]
#: Lemmas a variant breaks (it undoes the fix the lemma rests on), each failing with a reachable CTI.
LEMMAS_BROKEN = {"before-67b45af946ec": {"handler_has_event"}, "before-098f4c061ea1": {"lbr_fmt_only_on_legacy_host"}}
#: How `prove` shows a broken invariant: a reachable CTI, or, where every run to the violation
#: breaks another property first (so no CTI relative to them is reachable), the property alone
#: violated in the CTI's instance ("violated", with the explorer's trace).
SHOWN_BROKEN = ("reachable", "violated")
SIZES = {"vCPU": 1, "pCPU": 2, "host_user": 1}


@functools.cache
def model(variant: str = "upstream"):
    return upstream_lbr.build(variant)


@functools.cache
def holds_alone(variant: str, name: str) -> bool:
    m = model(variant)
    alone = dataclasses.replace(m, invariants=(m.invariant(name),), goals=())
    r = explore_vector(Instance(alone, SIZES), symmetry=True, stop_at_violation=True, check_deadlock=False)
    assert r.complete or r.violation is not None
    return r.violation is None


@functools.cache
def proved(variant: str, all_sizes: bool):
    m = model(variant)
    return prove(m, lemmas(m), all_sizes=all_sizes)


def test_the_lists_here_match_the_model():
    m = model()
    assert [i.name for i in m.invariants if i.name not in BROKEN] == KEPT
    assert set(BROKEN) == set(upstream_lbr.MERGED_DESIGN_BREAKS) == set(BREAKS["upstream"])
    assert [(g, [lem.name for lem in ls]) for g, ls in groups(m)] == list(LEMMAS.items())
    assert upstream_lbr.LEMMAS == "lbrspec_proofs.upstream_lbr"
    assert upstream_lbr.DEFAULT_SIZES == SIZES


@pytest.mark.long
def test_lemmas_are_documented_and_named_apart():
    names = set()
    for variant in upstream_lbr.VARIANTS:
        m = model(variant)
        invs = {i.name for i in m.invariants}
        for _, ls in groups(m):
            for lem in ls:
                assert lem.kind == "lemma" and lem.doc.strip().endswith("."), lem.name
                assert lem.name not in invs, lem.name
                names.add(lem.name)
    assert names == {n for ls in LEMMAS.values() for n in ls} | set(FREEZE)
    # the variant-specific groups: LBR_SELECT's context switch only where it is saved, the freeze only
    # where the cleanup keeps a frozen event
    assert dict(groups(model("before-5863702561e6")))["lbr_ctxsw"] == []
    assert [lem.name for lem in dict(groups(model("proposal-keep-on-freeze")))["freeze"]] == FREEZE


@pytest.mark.parametrize("variant", ["upstream", "proposal-keep-on-freeze"])
@pytest.mark.long
def test_every_lemma_holds_in_every_reachable_state(variant):
    """The lemmas are facts of the design, checked as invariants by exhaustive exploration of the
    default instance (every reachable state, none pruned); the keep-on-freeze proposal has the
    freeze lemmas too."""
    m = model(variant)
    as_invariants = dataclasses.replace(m, invariants=tuple(lemmas(m)))
    r = explore_vector(Instance(as_invariants, SIZES), symmetry=True, check_deadlock=False, stop_at_violation=False,
                       record_all=True)
    assert r.complete and r.violations == [], [v.prop for v in r.violations]


def _check_upstream(r, sizes) -> None:
    """Exactly the kept invariants and every lemma proven; each broken one a reachable CTI whose
    trace replays to its violation."""
    assert r.verdict == "violated" and r.sizes == sizes
    invs = [row for row in r.rows if row.kind == "invariant"]
    assert [row.name for row in invs if row.proven] == KEPT
    assert all(row.proven for row in r.rows if row.kind == "lemma")
    for name in BROKEN:
        row = r.row(name)
        assert row.status == "not inductive" and row.cti.classification in SHOWN_BROKEN, name
        res = replay(row.cti.instance, row.cti.trace)
        assert res.ok and name in res.final_violations, name


@pytest.mark.long
def test_upstream_every_size_proves_what_the_design_keeps(capsys):
    r = proved("upstream", True)
    _check_upstream(r, None)
    # the text says which fail in a reachable state and which are proven all the same
    m = model()
    source = load_model("upstream_lbr")
    print_result(source, r, source.lemma_groups(m), analyse(m, list(m.invariants) + lemmas(m)), None)
    out = capsys.readouterr().out
    assert f"VIOLATED: {', '.join(BROKEN)} fail(s) in a reachable state; proven all the same: {', '.join(KEPT)} (" in out
    # I3 breaks only where a host CPU-pinned event holds the LBR, so every run to it breaks I8 first:
    # shown violated alone, with the explorer's trace; the others with a reachable CTI
    assert out.count("REACHABLE: a real violation") == len(BROKEN) - 1 and "UNREACHABLE" not in out
    assert "VIOLATED in the 1 vCPU, 1 pCPU, 1 host_user instance: guest_reads_own_or_zero fails" in out
    assert "10 lemmas from lbrspec_proofs.upstream_lbr" in out


@pytest.mark.long
def test_upstream_default_size_proves_what_the_design_keeps(capsys):
    """The command line, on the default instance: exit 1 (violated), the kept invariants and the
    lemmas proven, each broken one with a reachable CTI."""
    assert main(["prove", "--model", "upstream_lbr", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "violated" and data["variant"] == "upstream" and data["sizes"] == SIZES
    props = {p["name"]: p for p in data["properties"]}
    assert [n for n, p in props.items() if p["kind"] == "invariant" and p["status"] == "proven"] == KEPT
    assert all(p["status"] == "proven" for p in props.values() if p["kind"] == "lemma")
    assert [lem["name"] for lem in data["lemmas"]] == [n for ls in LEMMAS.values() for n in ls]
    for name in BROKEN:
        assert props[name]["status"] == "not inductive" and props[name]["cti"]["classification"] in SHOWN_BROKEN


# -- slow: every variant, bigger instances, each lemma needed ---------------------------------------
VARIANTS = list(upstream_lbr.VARIANTS)


@pytest.mark.slow
@pytest.mark.parametrize("all_sizes", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_proves_what_it_keeps(variant, all_sizes):
    """Every invariant a variant keeps (the explorer's word, in test_upstream_lbr.BREAKS) is
    proven, for the default instance and every size; every one it breaks is not, and at least
    one has a reachable CTI; the lemmas it breaks fail with a reachable CTI."""
    m = model(variant)
    r = proved(variant, all_sizes)
    assert r.verdict == "violated"
    invs = [i.name for i in m.invariants]
    # what holds is what the explorer finds unviolated with the invariant checked alone (check
    # itself stops at states that break a state invariant, so behind one it says "not violated")
    broken_alone = {n for n in invs if not holds_alone(variant, n)}
    assert set(BREAKS[variant]) <= broken_alone
    assert [row.name for row in r.rows if row.kind == "invariant" and row.proven] == \
        [n for n in invs if n not in broken_alone]
    reachable = {row.name for row in r.rows if row.cti is not None and row.cti.classification in SHOWN_BROKEN}
    lem_broken = LEMMAS_BROKEN.get(variant, set())
    assert reachable & set(BREAKS[variant]) and reachable <= set(BREAKS[variant]) | lem_broken
    # an invariant that is inductive only together with one that fails is left unproven, not shown
    # violated (before-1647b52757d5's I1, behind vlbr_event_only_with_lbr_enabled)
    leaning = {row.name for row in r.rows if row.status == "unproven" and "only together with" in row.detail}
    assert broken_alone <= reachable | leaning
    assert {row.name for row in r.rows if row.kind == "lemma" and not row.proven} == lem_broken
    assert lem_broken <= reachable


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_lemma_holds_on_bigger_instances(variant):
    """The lemmas on two vCPUs, and on two pCPUs with two host users (a lemma a variant breaks is
    the one it is known to break)."""
    m = model(variant)
    as_invariants = dataclasses.replace(m, invariants=tuple(lemmas(m)))
    for sizes in ({"vCPU": 2, "pCPU": 1, "host_user": 1}, {"vCPU": 1, "pCPU": 2, "host_user": 2}, SIZES):
        r = explore_vector(Instance(as_invariants, sizes), symmetry=True, check_deadlock=False,
                           stop_at_violation=False, record_all=True)
        assert r.complete and {v.prop for v in r.violations} == LEMMAS_BROKEN.get(variant, set()), (variant, sizes)


#: For each lemma, a proof that fails without it: (variant, every size?, an invariant it is needed for).
NEEDED_FOR = {
    "one_thread_per_pcpu": ("upstream", True, "one_vlbr_per_pcpu"),
    "guest_mode_runs": ("upstream", False, "passthrough_iff_active"),
    "access_runs": ("upstream", False, "kvm_touches_lbr_only_when_active"),
    "handler_has_event": ("upstream", False, "host_no_oops"),
    "active_event_runs": ("upstream", True, "one_vlbr_per_pcpu"),
    "inactive_event_out": ("proposal-keep-on-freeze", False, "records_kept_after_freeze"),
    "lbr_fmt_only_on_legacy_host": ("upstream", False, "lbr_enabled_only_when_consistent"),
    "passthrough_after_run": ("upstream", False, "no_refresh_after_run"),
    "kept_select_saved": ("upstream", True, "lbr_select_restored"),
    **{name: ("proposal-keep-on-freeze", False, "records_kept_after_freeze") for name in FREEZE},
}


@pytest.mark.slow
@pytest.mark.parametrize("dropped", list(NEEDED_FOR))
def test_every_lemma_is_needed(dropped):
    variant, all_sizes, needed = NEEDED_FOR[dropped]
    m = model(variant)
    rest = [lem for lem in lemmas(m) if lem.name != dropped]
    assert len(rest) == len(lemmas(m)) - 1
    r = prove(m, rest, all_sizes=all_sizes, cti_depth=0, explore_states=1, timeout=300)
    assert not r.row(needed).proven
    assert proved(variant, all_sizes).row(needed).proven


@pytest.mark.long
def test_a_lemma_rules_out_the_cti_it_is_for():
    """Without handler_has_event the check's NULL dereference gets a CTI the explorer shows
    unreachable, whose pre-state the lemma rules out (the handler past the exit with no event)."""
    m = model()
    r = prove(m, [lem for lem in lemmas(m) if lem.name != "handler_has_event"], cti_depth=0)
    row = r.row("host_no_oops")
    assert row.status == "not inductive" and row.cti.classification == "unreachable"
    lem = next(x for x in lemmas(m) if x.name == "handler_has_event")
    assert not holds(lem.body, row.cti.instance, row.cti.pre)
    assert "pc[v0]" in row.cti.core_text()
