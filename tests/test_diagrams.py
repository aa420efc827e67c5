"""Diagrams computed from the model: per-machine diagrams, projections, trace sequence diagrams,
and the `lbrspec diagram` command."""

from __future__ import annotations

import functools
import json
import random

import pytest

from conftest import explored, model
from lbrspec.analysis.stategraph import StateGraph
from lbrspec.cli import main
from lbrspec.diagrams import dot, mermaid
from lbrspec.diagrams.figure import LoopEnd, LoopStart, Message, Note
from lbrspec.diagrams.machines import abbreviate_guard, choose_view, machine_diagram
from lbrspec.diagrams.projection import parse_term, project
from lbrspec.diagrams.sequence import GUEST_LBR_LANES, sequence
from lbrspec.errors import InputError
from lbrspec.explicit.evaluate import evaluate, successors
from lbrspec.lang.domains import UnionDomain
from lbrspec.trace.itf import read_itf, write_itf


@functools.lru_cache(maxsize=None)
def graph(variant: str = "v8", vcpus: int = 1, pcpus: int = 2, hosts: int = 1) -> StateGraph:
    return StateGraph(explored(variant, vcpus, pcpus, hosts, keep_graph=True))


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- machines ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("machine", [m.name for m in model("v8").machines])
def test_each_machine_diagram_fits_on_a_screen_and_speaks_of_its_own_transitions(machine):
    g = graph()
    view = choose_view(g, machine)
    d = machine_diagram(g, view)
    assert 1 <= len(d.nodes) <= 20
    assert any(n.initial for n in d.nodes)
    assert all(v in g.instance.model.machine(machine).vars for v in view.control)
    names = {t.name for t in g.instance.model.machine(machine).transitions}
    for e in d.edges:
        assert all(label.split("\n")[0].split(" [")[0] in names for label in e.labels), e.labels


def _control_key(g, view, s):
    out = []
    for v in view.control:
        code = s[g.instance.slot_at(v, [0] * len(v.index))]
        val = v.dom.decode(code, g.instance.sizes)
        out.append(val.tag if isinstance(v.dom, UnionDomain) else val)
    return tuple(out)


def test_machine_diagram_edges_match_the_reference_semantics_on_a_sample():
    """Every step of the reference semantics that moves kvm's control state of v0 appears as an
    edge labelled with the kvm transition that took part in it."""
    g = graph("v8", 1, 2, 1)
    view = choose_view(g, "kvm")
    d = machine_diagram(g, view)
    label_of = {tuple(n.lines): n.id for n in d.nodes}
    edges = {(e.src, e.dst, lab.split("\n")[0].split(" [")[0]) for e in d.edges for lab in e.labels}

    def node(s):
        key = _control_key(g, view, s)
        matches = [n.id for n in d.nodes if all(
            (line == f"{v.name}={k}") or (line == v.name and k is True) or (line == f"not {v.name}" and k is False)
            for line, v, k in zip(n.lines, view.control, key))]
        assert len(matches) == 1, (key, label_of)
        return matches[0]

    rng = random.Random(3)
    for sid in rng.sample(range(g.n), 200):
        s = g.state(sid)
        for action, params, t in successors(g.instance, s):
            if _control_key(g, view, s) == _control_key(g, view, t):
                continue
            for part in action.parts:
                if part.transition.machine.name == "kvm":
                    assert (node(s), node(t), part.transition.name) in edges


def test_machine_control_variables_can_be_named_and_are_checked():
    g = graph("v8", 1, 2, 1)
    assert len(machine_diagram(g, choose_view(g, "kvm", ["pc"])).nodes) == 4  # IDLE, WARNED, ACCESS, DONE
    with pytest.raises(InputError, match="has no variable"):
        choose_view(g, "kvm", ["ev"])
    with pytest.raises(InputError, match="not a control state"):
        choose_view(g, "sched", ["cpu"])
    with pytest.raises(InputError, match="unknown machine"):
        choose_view(g, "nope")


def test_guards_are_abbreviated_at_a_conjunct_and_true_guards_vanish():
    m = model("v8")
    kvm = m.machine("kvm")
    t = {x.name: x for x in kvm.transitions}
    assert abbreviate_guard(t["sched_in_hook"].guard) == ""
    short = abbreviate_guard(t["lbr_exit"].guard, width=20)
    assert short.startswith("runs_on(v, p)") and short.endswith("…")
    # with the machine's variables, what the transition needs of its own machine comes first
    own = abbreviate_guard(t["lbr_exit"].guard, width=34, own=set(kvm.vars))
    assert own.startswith("in_guest[v]") and "passthru[v]" in own and own.index("passthru") < len(own) - 5
    full = abbreviate_guard(t["vmenter"].guard, width=200)
    assert "…" not in full and full.count(" and ") == 2


# -- projections -------------------------------------------------------------------------------------
def test_projection_nodes_are_the_reachable_value_combinations():
    g = graph("v8", 1, 2, 1)
    terms = ["ev[v0]", "passthru[v0]", "owns(v0, cpu[v0])"]
    p = project(g, terms)
    parsed = [parse_term(g.instance, t) for t in terms]
    combos = {tuple(int(evaluate(t.expr, g.instance, g.state(s), t.env)) for t in parsed) for s in range(g.n)}
    assert len(p.diagram.nodes) == len(combos) == p.full_nodes
    total = sum(int(n.note.split()[0].replace(",", "")) for n in p.diagram.nodes)
    assert total == g.n
    assert not p.dropped and not p.diagram.caption


def test_a_projection_too_large_is_summarised_and_says_so():
    g = graph("v8", 1, 2, 1)
    p = project(g, ["ev[v0]", "pc[v0]", "passthru[v0]", "in_guest[v0]"], max_nodes=5)
    assert len(p.diagram.nodes) <= 5 and p.dropped
    assert "summarised" in p.diagram.caption and p.dropped[-1] in p.diagram.caption
    assert p.full_nodes > 5


def test_projection_of_the_default_instance_stays_readable():
    p = project(graph(), ["ev[v0]", "passthru[v0]", "owns(v0, cpu[v0])", "pinned_holds(cpu[v0])"])
    assert len(p.diagram.nodes) <= 60 and not p.dropped


def test_a_nested_term_reads_the_slot_its_index_names():
    g = graph("v8", 1, 2, 1)
    t = parse_term(g.instance, "sel[cpu[v0]]")
    inst = g.instance
    for sid in range(0, g.n, 7):
        s = g.state(sid)
        dec = inst.decode(s)
        want = dec[f"sel[{dec['cpu[v0]']}]"]
        assert t.expr.dom.decode(int(evaluate(t.expr, inst, s, t.env)), inst.sizes) == want


@pytest.mark.parametrize("bad, why", [
    ("ev[v7]", "does not exist"), ("nope[v0]", "not a variable"), ("ev[v0", "expected ]"),
    ("owns(v0)", "argument"), ("ev[p0]", "sort vCPU"), ("ev[v0] x", "unexpected"), ("ev[v0]$", "unexpected character"),
    ("frob(v0)", "not a definition"),
])
def test_bad_terms_are_input_errors(bad, why):
    with pytest.raises(InputError, match=why.replace("]", r"\]")):
        parse_term(graph("v8", 1, 2, 1).instance, bad)


# -- sequence diagrams -------------------------------------------------------------------------------
def test_a_counterexample_becomes_a_numbered_sequence_between_the_five_lanes():
    trace = explored("v7-write-path").violation.trace
    d = sequence(trace, model("v7-write-path"))
    assert [name for _, name in d.lanes] == ["guest", "KVM", "perf core", "host LBR user", "IPI"]
    numbered = [m for m in d.items if isinstance(m, Message) and m.text[:1].isdigit()]
    assert [int(m.text.split(".")[0]) for m in numbered] == list(range(1, len(trace) + 1))
    by_action = {m.text.split(". ", 1)[1].split("(")[0]: m for m in numbered}
    assert by_action["guest_lbr_exit"].src == "G"  # kvm.lbr_exit starts in the guest
    assert by_action["host_ipi"].src == "I"  # the install runs in the IPI
    # every change of the trace is shown in a note
    notes = "\n".join(n.text for n in d.items if isinstance(n, Note))
    for i in range(len(trace)):
        for slot in trace.changes(i):
            assert slot in notes


def test_a_lasso_has_one_loop_block_around_its_loop_steps():
    g = graph("never-free", 1, 2, 1)
    from lbrspec.analysis.liveness import check_liveness
    from lbrspec_models.guest_lbr import liveness

    (r,) = check_liveness(g, liveness(model("never-free"))[1])
    d = sequence(r.lasso, model("never-free"))
    starts = [i for i, x in enumerate(d.items) if isinstance(x, LoopStart)]
    ends = [i for i, x in enumerate(d.items) if isinstance(x, LoopEnd)]
    assert len(starts) == len(ends) == 1
    inside = [m for m in d.items[starts[0]:ends[0]] if isinstance(m, Message) and m.text[:1].isdigit()]
    assert len(inside) == len(r.lasso) - r.lasso.loop
    text = mermaid.sequence_diagram(d)
    assert text.count("\n    loop ") == 1 and "\n    end" in text
    assert "digraph" in dot.sequence_diagram(d)


def test_lanes_cover_every_machine_of_the_model():
    assert {m.name for m in model("v8").machines} <= set(GUEST_LBR_LANES.machine_lane)


# -- the command -----------------------------------------------------------------------------------
@pytest.mark.long
def test_diagram_machine_prints_mermaid_or_dot(capsys):
    code, out, err = run(capsys, "diagram", "machine", "vcpu_event", "--vcpus", "1", "--pcpus", "1")
    assert code == 0 and out.startswith("stateDiagram-v2") and "ev=ACTIVE" in out
    code, out, _ = run(capsys, "diagram", "machine", "vcpu_event", "--vcpus", "1", "--pcpus", "1", "--format", "dot")
    assert code == 0 and out.startswith("digraph")


def test_diagram_errors_are_one_line_and_exit_2(capsys):
    for args in (["diagram", "machine", "nope", "--vcpus", "1", "--pcpus", "1"],
                 ["diagram", "project", "ev[v9]", "--vcpus", "1", "--pcpus", "1"],
                 ["diagram", "trace"],
                 ["diagram", "machine", "kvm", "--variant", "v9"]):
        code, out, err = run(capsys, *args)
        assert code == 2, args
        assert err.startswith("lbrspec: error:") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.long
def test_diagram_trace_reads_a_counterexample_from_check_and_refuses_a_forged_one(capsys, tmp_path):
    f = tmp_path / "cex.itf.json"
    code, _, _ = run(capsys, "check", "--variant", "no-bit-62", "--trace-out", str(f), "--quiet")
    assert code == 1
    code, out, _ = run(capsys, "diagram", "trace", str(f))
    assert code == 0 and out.startswith("sequenceDiagram") and "violated in the last state: isolation" in out
    t = read_itf(f)
    t.states[2]["ev[v0]"] = "FREED"
    forged = tmp_path / "forged.itf.json"
    write_itf(t, forged)
    code, _, err = run(capsys, "diagram", "trace", str(forged))
    assert code == 2 and "is not a trace of" in err


def test_diagram_trace_of_a_variant_without_counterexample_draws_nothing(capsys):
    code, out, err = run(capsys, "diagram", "trace", "--variant", "v8", "--vcpus", "1", "--pcpus", "2")
    assert code == 0 and out == "" and "nothing to draw" in err


def test_diagram_trace_of_the_liveness_mutant_draws_its_lasso(capsys):
    code, out, _ = run(capsys, "diagram", "trace", "--variant", "never-free", "--vcpus", "1", "--pcpus", "2")
    assert code == 0 and "\n    loop steps" in out and "unused_event_is_freed" in out


def test_diagram_svg_needs_graphviz(capsys, tmp_path, monkeypatch):
    out_file = tmp_path / "vm.svg"
    if dot.dot_available():
        code, _, _ = run(capsys, "diagram", "machine", "msr", "--vcpus", "1", "--pcpus", "1", "-o", str(out_file))
        assert code == 0 and out_file.read_text().lstrip().startswith("<?xml")
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, _, err = run(capsys, "diagram", "machine", "msr", "--vcpus", "1", "--pcpus", "1", "--format", "svg")
    assert code == 2 and "Graphviz 'dot' is not installed" in err


@pytest.mark.long
def test_check_analysis_and_liveness_keep_the_json_keys_and_exit_codes(capsys, tmp_path):
    code, out, _ = run(capsys, "check", "--vcpus", "1", "--pcpus", "2", "--analysis", "--liveness", "--json", "--quiet")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "holds"
    for key in ("states", "transitions", "violated", "trace_length", "goals_unreached", "analysis", "liveness"):
        assert key in data
    assert data["analysis"]["diameter"] == data["depth"]
    assert data["analysis"]["actions_never_enabled"] == [] and len(data["analysis"]["sink_components"]) >= 1
    assert {x["verdict"] for x in data["liveness"]} == {"holds"}
    lasso = tmp_path / "lasso.itf.json"
    code, out, _ = run(capsys, "check", "--variant", "never-free", "--vcpus", "1", "--pcpus", "2", "--liveness",
                       "--trace-out", str(lasso), "--quiet")
    assert code == 1 and "LIVENESS VIOLATED: unused_event_is_freed" in out
    t = read_itf(lasso)
    assert t.loop is not None and t.violation == "unused_event_is_freed"


def test_check_without_the_new_flags_is_unchanged(capsys):
    code, out, _ = run(capsys, "check", "--vcpus", "1", "--pcpus", "2", "--json", "--quiet")
    data = json.loads(out)
    assert code == 0 and "analysis" not in data and "liveness" not in data


# -- pictures that show the bug (issue 13) -----------------------------------------------------------
def _regions(d):
    """(RegionStart, the items inside it) for each window of a sequence diagram."""
    from lbrspec.diagrams.figure import RegionEnd, RegionStart

    out, stack = [], []
    for i, it in enumerate(d.items):
        if isinstance(it, RegionStart):
            stack.append((it, i))
        elif isinstance(it, RegionEnd):
            start, k = stack.pop()
            out.append((start, d.items[k + 1:i]))
    assert not stack
    return out


def _numbered(items):
    return [m for m in items if isinstance(m, Message) and m.text[:1].isdigit()]


def test_the_v7_trace_marks_the_race_window_and_the_ipi_lands_inside_it():
    m = model("v7-write-path")
    trace = explored("v7-write-path").violation.trace
    d = sequence(trace, m)
    (region, inside), = _regions(d)
    assert region.tone == "race" and "interrupts stay on" in region.label
    steps = [x.text.split(". ", 1)[1].split("(")[0] for x in _numbered(inside)]
    # the window opens at the step that moves pc[v0] into ACCESS, and the IPI is inside it
    opener = next(i for i in range(len(trace)) if trace.states[i + 1]["pc[v0]"] == "ACCESS"
                  and trace.states[i]["pc[v0]"] != "ACCESS")
    assert steps[0] == trace.steps[opener].action and f"at step {opener + 1}" in region.label
    assert "host_ipi" in steps
    # the IPI arrives at KVM's lane (the thread it preempts), not at perf core, and KVM's lane is activated
    from lbrspec.diagrams.figure import Activate, Deactivate

    ipi = next(x for x in inside if isinstance(x, Message) and "host_ipi" in x.text)
    assert ipi.style == "interrupt" and ipi.src == "I" and ipi.dst == "K" and "interrupts KVM" in ipi.text
    k = inside.index(ipi)
    assert isinstance(inside[k + 1], Activate) and inside[k + 1].lane == "K"
    assert any(isinstance(x, Deactivate) and x.lane == "K" for x in inside[k + 1:])
    text = mermaid.sequence_diagram(d)
    assert "\n    rect rgba(" in text and "I-)K: " in text and "activate K" in text
    assert "cluster" not in dot.sequence_diagram(d) and "penwidth=5" in dot.sequence_diagram(d)


def test_a_trace_without_the_race_has_no_race_window():
    # the counterexample of another property never sits between the check and the access
    for name in ("no-bit-62", "no-cap-check"):
        d = sequence(explored(name).violation.trace, model(name))
        assert not [r for r, _ in _regions(d) if r.tone == "race"], name
    # v8 passes through the access with interrupts off: a guarded window, closed by the access, no interrupt inside
    g = graph("v8", 1, 2, 1)
    inst = g.instance
    target = next(s for s in range(g.n) if inst.decode(g.state(s))["pc[v0]"] == "DONE")
    d = sequence(g.trace(g.path_to(target)), model("v8"))
    (region, inside), = _regions(d)
    assert region.tone == "guarded" and "interrupts off" in region.label and "kvm_lbr_access" in region.label
    assert not [x for x in inside if isinstance(x, Message) and x.style == "interrupt"]
    assert "rect rgba(120, 200, 120" in mermaid.sequence_diagram(d)


def test_the_last_note_gives_the_violated_formula_and_its_false_conjunct():
    from lbrspec.explicit.explain import explain
    from lbrspec.explicit.instance import Instance
    from lbrspec.lang.pretty import show

    m = model("v7-write-path")
    trace = explored("v7-write-path").violation.trace
    note = sequence(trace, m).items[-1]
    assert isinstance(note, Note) and note.text.startswith(f"violated in the last state: {trace.violation}")
    inv = next(i for i in m.invariants if i.name == trace.violation)
    inst = Instance(m, trace.sizes)
    ex = explain(inv.body, inst, inst.encode(trace.states[-1]))
    assert not ex.value
    assert show(inv.body) in note.text and f"false conjunct: {ex.conjunct}" in note.text
    assert "false for " + ", ".join(f"{k} = {v}" for k, v in ex.bindings) in note.text
    # the conjunct is about the vCPU's event, which the IPI took the LBR from
    changed_by_ipi = set(trace.changes(len(trace) - 1))
    assert any(slot in ex.conjunct for slot in changed_by_ipi)


def test_branches_of_a_conditional_update_get_their_own_labels():
    g = graph("v8", 1, 2, 1)
    d = machine_diagram(g, choose_view(g, "kvm"))
    checks = [(e.dst, lab) for e in d.edges for lab in e.labels if lab.startswith("lbr_check")]
    by_source = {}
    for e in d.edges:
        for lab in e.labels:
            if lab.startswith("lbr_check"):
                by_source.setdefault(e.src, []).append(lab)
    assert checks and all("\nwhen " in lab for _, lab in checks)
    # from each state where the check runs, its two outcomes carry different labels
    assert any(len(set(labs)) == 2 for labs in by_source.values())
    # each label's condition is the update's condition or its negation
    from lbrspec.diagrams.machines import branches, negate
    from lbrspec.lang.pretty import show

    t = next(x for x in model("v8").machine("kvm").transitions if x.name == "lbr_check")
    cond = next(u.value.cond for u in t.updates if u.var.name == "pc")
    assert [b for _, b in branches(next(u.value for u in t.updates if u.var.name == "pc"))] == \
        [show(cond), show(negate(cond))]
    assert {lab.split("\nwhen ", 1)[1] for _, lab in checks} == {show(cond), show(negate(cond))}


def test_a_variable_that_only_doubles_the_picture_is_left_out_and_named():
    from lbrspec.explicit.explore import explore
    from lbrspec.explicit.instance import Instance
    from lbrspec.modelref import load_model

    src = load_model("upstream_lbr")
    m = src.build()
    g = StateGraph(explore(Instance(m, {"vCPU": 1, "pCPU": 2, "host_user": 1}), keep_graph=True,
                           stop_at_violation=False, check_deadlock=False))
    view = choose_view(g, "kvm")
    assert [v.name for v in view.hidden] == ["dbg"] and "dbg" not in [v.name for v in view.control]
    d = machine_diagram(g, view)
    assert "left out dbg" in d.caption and "left out dbg" in d.title
    # with dbg shown, every control state appears once with each of its values: the picture doubles
    with_dbg = machine_diagram(g, choose_view(g, "kvm", [v.name for v in view.control] + ["dbg"]))
    assert len(with_dbg.nodes) == 2 * len(d.nodes)
    # a variable that does tell states apart stays (release_req in guest_lbr's KVM)
    g8 = graph("v8", 1, 2, 1)
    v8 = choose_view(g8, "kvm")
    assert "release_req" in [v.name for v in v8.control] and not v8.hidden


def test_the_projection_of_a_counterexample_reads_its_property_and_marks_the_violation():
    from lbrspec.diagrams.projection import property_terms
    from lbrspec.explicit.explain import explain
    from lbrspec.explicit.instance import Instance

    m = model("v7-write-path")
    trace = explored("v7-write-path").violation.trace
    inv = next(i for i in m.invariants if i.name == trace.violation)
    inst = Instance(m, trace.sizes)
    ex = explain(inv.body, inst, inst.encode(trace.states[-1]))
    terms = property_terms(inv.body, ex.bindings)
    assert "pc[v0]" in terms and any(t.startswith("owns(v0") for t in terms)
    from lbrspec.explicit.explore import explore

    g = StateGraph(explore(Instance(m, {"vCPU": 1, "pCPU": 2, "host_user": 1}), keep_graph=True,
                           stop_at_violation=False, check_deadlock=False))
    bad = [1 - x for x in g.values(inv.body)]
    p = project(g, terms, 16, highlight=bad, highlight_text="violate")
    parsed = [parse_term(g.instance, t) for t in terms]
    lit = {n.id for n in p.diagram.nodes if n.highlight}
    assert lit
    from lbrspec.trace.text import fmt_value

    def line(t, s):
        v = t.expr.dom.decode(int(evaluate(t.expr, g.instance, g.state(s), t.env)), g.instance.sizes)
        return (t.text if v else f"not {t.text}") if isinstance(v, bool) else f"{t.text}={fmt_value(v)}"

    holds_bad: dict[tuple, bool] = {}
    for s in range(g.n):
        key = tuple(line(t, s) for t in parsed)
        holds_bad[key] = holds_bad.get(key, False) or bool(bad[s])
    assert {tuple(n.lines) for n in p.diagram.nodes} == set(holds_bad)
    for n in p.diagram.nodes:
        assert (n.id in lit) == holds_bad[tuple(n.lines)], n.lines
    text = mermaid.state_diagram(p.diagram)
    assert "classDef highlighted" in text and all(f"class {x} highlighted" in text for x in lit)
    assert "fillcolor=\"#f8d0d0\"" in dot.state_diagram(p.diagram)


def test_the_composition_has_one_line_per_pair_of_actors():
    from lbrspec.docgen.generate import _composition_dot, _composition_mermaid, composition

    m = model("v8")
    actors, links = composition(m)
    assert sorted(x for _g, _n, xs in actors for x in xs) == sorted(x.name for x in m.machines)
    pairs = [(lk.a, lk.b) for lk in links]
    assert len(pairs) == len(set(pairs)) and len(links) < sum(len(x.reads) for x in m.machines)
    of = {x: g for g, _n, xs in actors for x in xs}
    for lk in links:
        for name in lk.steps:
            act = next(a for a in m.actions if a.name == name)
            assert {lk.a, lk.b} <= {of[p.transition.machine.name] for p in act.parts}
    assert _composition_dot(m).count(" -- ") == len(links)
    assert _composition_mermaid(m).count(" ---|") == len(links)
