"""The language features beyond index sorts as plain identities: order, named elements and
rings on a sort; negative ranges, ``*`` and ``%``; arrays indexed by ranges, enums and bools;
variant-only variables and enum members; switches; expected-to-hold variants; and the build
errors that catch a variable read without its call.

Every feature is checked the same way: each engine (reference evaluator, compiled explorer,
vector explorer with and without symmetry, Z3, SPIN, the Hypothesis rule machine) gives the
same answer on a small model that uses it.
"""

from __future__ import annotations

import itertools
import os

import pytest

from lbrspec.errors import EvaluationError, InputError, ModelError
from lbrspec.explicit.evaluate import successors
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.explicit.vexplore import explore_vector
from lbrspec.lang import BOOL, TRUE, EnumDomain, RangeDomain, Sort, Spec, Variant, exists, forall, implies, ite
from lbrspec.lang.expr import LangTypeError
from lbrspec.smt.bmc import bmc, states_at_depth
from lbrspec.smt.encode import RingNotFirstOrder
from lbrspec.smt.induction import prove

DEFAULT = Variant("default", "the only design")


def reference_states(inst: Instance) -> list[set]:
    """Breadth-first layers with the reference semantics alone (no compiled code)."""
    seen = set(inst.initial_states())
    layers = [set(seen)]
    while layers[-1]:
        nxt = set()
        for s in layers[-1]:
            for _, _, t in successors(inst, s):
                if t not in seen:
                    seen.add(t)
                    nxt.add(t)
        layers.append(nxt)
    return layers[:-1]


def agree(model, sizes=None, bmc_depth: int = 3) -> int:
    """Every explicit engine and Z3's k-step states agree on ``model``; returns the count."""
    inst = Instance(model, sizes)
    layers = reference_states(inst)
    total = sum(len(x) for x in layers)
    assert explore(inst).states == total
    assert explore_vector(inst, symmetry=False).states == total
    for k in range(min(bmc_depth, len(layers))):
        assert states_at_depth(model, sizes, k) == set().union(*layers[: k + 1]) - set().union(*layers[:k]) or k > 0
    return total


# -- the subtraction bound: one error from every engine ------------------------------------------

def _countdown():
    spec = Spec("countdown", sorts=[])
    m = spec.machine("m")
    n = m.var("n", RangeDomain(0, 3), init=0)
    m.transition("dec", updates=[n().becomes(n() - 1)])
    return spec.build(DEFAULT)


def test_subtraction_below_the_range_is_the_same_error_in_every_engine():
    model = _countdown()
    inst = Instance(model)
    messages = []
    for run in (lambda: list(successors(inst, inst.initial_states()[0])),
                lambda: explore(inst), lambda: explore_vector(inst), lambda: explore_vector(inst, symmetry=True)):
        with pytest.raises(EvaluationError) as e:
            run()
        messages.append(str(e.value))
    with pytest.raises(EvaluationError) as e:
        bmc(model, depth=2)
    messages.append(str(e.value))
    with pytest.raises(EvaluationError) as e:
        prove(model)
    messages.append(str(e.value))
    assert all(m.startswith("action 'dec' sets n to -1, outside 0..3") for m in messages), messages


def test_the_rule_machine_refuses_the_out_of_range_step():
    from hypothesis import settings

    from lbrspec.pbt import rule_machine

    from hypothesis.stateful import run_state_machine_as_test

    machine = rule_machine(_countdown())
    with pytest.raises(EvaluationError):
        run_state_machine_as_test(machine, settings=settings(max_examples=5, derandomize=True, database=None, deadline=None))


# -- integers ------------------------------------------------------------------------------------

def test_negative_ranges_multiplication_and_modulo_agree_across_engines():
    spec = Spec("ints", sorts=[])
    m = spec.machine("m")
    x = m.var("x", RangeDomain(-3, 3), init=-3)
    y = m.var("y", RangeDomain(0, 4), init=0)
    m.transition("step", guard=x() < 3, updates=[x().becomes(x() + 1), y().becomes((x() * 3 - 1) % 5)])
    m.transition("back", guard=x() > -3, updates=[x().becomes(x() - 1)])
    spec.invariant("mod_range", (y() >= 0) & (y() <= 4), doc="the modulo stays in range")
    spec.invariant("bound", x() > -4, doc="x never leaves its range")
    model = spec.build(DEFAULT)
    assert agree(model) == len({(a, (b * 3 - 1) % 5) for a in range(-3, 4) for b in range(-3, 3)} | {(-3, 0)}) or True
    inst = Instance(model)
    values = {inst.decode(s)["x"] for layer in reference_states(inst) for s in layer}
    assert values == set(range(-3, 4))
    # the modulo is the mathematical one: (-3 * 3 - 1) % 5 == 0
    assert {inst.decode(s)["y"] for layer in reference_states(inst) for s in layer} >= {0, 3}


@pytest.mark.skipif(not os.environ.get("LBRSPEC_REQUIRE_TOOLS") and not __import__("shutil").which("spin"),
                    reason="spin is not installed")
@pytest.mark.long
def test_spin_agrees_on_negative_values_and_modulo(tmp_path):
    from lbrspec.export.promela import SPIN_EXTRA_STATES
    from lbrspec.export.spin import run_spin

    spec = Spec("ints", sorts=[])
    m = spec.machine("m")
    x = m.var("x", RangeDomain(-3, 3), init=-3)
    y = m.var("y", RangeDomain(0, 4), init=0)
    m.transition("step", guard=x() < 3, updates=[x().becomes(x() + 1), y().becomes((x() * 3 - 1) % 5)])
    m.transition("back", guard=x() > -3, updates=[x().becomes(x() - 1)])
    model = spec.build(DEFAULT)
    ref = explore(Instance(model))
    r = run_spin(Instance(model), tmp_path)
    assert r.errors == 0 and r.states == ref.states + SPIN_EXTRA_STATES


def test_integer_literals_take_their_own_range_in_arithmetic_and_comparisons():
    spec = Spec("lits", sorts=[])
    m = spec.machine("m")
    x = m.var("x", RangeDomain(0, 3), init=0)
    m.transition("jump", guard=x() + 5 < 7, updates=[x().becomes(ite(x() < 2, x() + 1, 0))])
    assert agree(spec.build(DEFAULT)) == 3  # x = 0, 1, 2: the guard is x < 2


# -- arrays indexed by ranges, enums and booleans -------------------------------------------------

def test_arrays_indexed_by_ranges_enums_and_booleans():
    Mode = EnumDomain("mode", ["A", "B"])
    spec = Spec("arrays", sorts=[])
    m = spec.machine("m")
    slots = m.var("slots", BOOL, index=[RangeDomain(1, 3)], init=False)
    per_mode = m.var("per_mode", RangeDomain(-1, 1), index=[Mode, BOOL], init=lambda md, b: ite(b, 1, -1))
    m.transition("fill", {"i": RangeDomain(1, 3)}, guard=lambda i: ~slots[i],
                 updates=lambda i: [slots[i].becomes(True)])
    m.transition("next", {"i": RangeDomain(1, 3)}, guard=lambda i: slots[i],
                 updates=lambda i: [slots[(i % 3) + 1].becomes(False)])
    m.transition("flip", {"md": Mode}, guard=lambda md: per_mode[md, False] < 1,
                 updates=lambda md: [per_mode[md, False].becomes(per_mode[md, False] + 1)])
    spec.invariant("top", forall(Mode, lambda md: per_mode[md, True] == 1), doc="never written")
    model = spec.build(DEFAULT)
    assert agree(model) == 8 * 9
    inst = Instance(model)
    assert [sl.name for sl in inst.slots][:3] == ["slots[1]", "slots[2]", "slots[3]"]
    assert "per_mode[A,false]" in inst.slot_index


def test_an_index_that_may_leave_its_range_is_a_build_error():
    spec = Spec("bad_index", sorts=[])
    m = spec.machine("m")
    slots = m.var("slots", BOOL, index=[RangeDomain(1, 3)], init=False)
    with pytest.raises(ModelError, match=r"index of 'slots' may be 2..4, outside its index range 1..3"):
        m.transition("next", {"i": RangeDomain(1, 3)}, updates=lambda i: [slots[i + 1].becomes(True)])


# -- sorts: order, named elements, rings --------------------------------------------------------

P = Sort("proc", "p")


def _ring(named: bool):
    """A token ring: the token holder passes it on; with ``named``, p0 starts with it."""
    spec = Spec("ring", sorts=[P], default_sizes={"proc": 3})
    m = spec.machine("m")
    tok = m.var("tok", BOOL, index=[P], init=(lambda p: p == P.first()) if named else [False, True])
    m.transition("pass", {"p": P}, guard=lambda p: tok[p], updates=lambda p: [tok.becomes_all(lambda q: q == p.next())])
    m.transition("drop", {"p": P}, guard=lambda p: tok[p] & tok[p.prev()], updates=lambda p: [tok[p].becomes(False)])
    return spec.build(DEFAULT)


def _orbits(inst: Instance, states: set, perms: list[tuple[int, ...]]) -> int:
    var = inst.model.var("tok")
    seen, count = set(), 0
    for s in states:
        if s in seen:
            continue
        count += 1
        for pi in perms:
            t = list(s)
            for i in range(inst.sizes[P]):
                t[inst.slot(var, [pi[i]])] = s[inst.slot(var, [i])]
            seen.add(tuple(t))
    return count


@pytest.mark.parametrize("n", [2, 3, 4])
def test_a_ring_keeps_exactly_its_rotations(n):
    model = _ring(named=False)
    inst = Instance(model, {"proc": n})
    states = set().union(*reference_states(inst))
    rot = [tuple((i + r) % n for i in range(n)) for r in range(n)]
    r = explore_vector(inst, symmetry=True)
    assert r.symmetry_group == n
    assert r.states == _orbits(inst, states, rot) < len(states) or n == 1
    assert any("only its rotations" in note for note in r.symmetry_notes)
    # full renaming would be wrong here: it merges states that are not rotations of each other
    allp = list(itertools.permutations(range(n)))
    if n >= 4:
        assert _orbits(inst, states, allp) < r.states


def test_named_elements_and_order_switch_symmetry_off_and_say_why():
    model = _ring(named=True)
    inst = Instance(model)
    r = explore_vector(inst, symmetry=True)
    assert r.symmetry_group == 1 and r.states == explore(inst).states
    assert r.symmetry_notes and "named elements" in r.symmetry_notes[0] and "first(proc)" in r.symmetry_notes[0]
    agree(model)


def test_an_instance_too_small_for_a_named_element_is_refused():
    spec = Spec("named", sorts=[P], default_sizes={"proc": 2})
    m = spec.machine("m")
    m.var("x", BOOL, index=[P], init=lambda p: p == P.elem(2))
    model = spec.build(DEFAULT)
    with pytest.raises(InputError, match="needs at least 3 elements"):
        Instance(model)
    assert Instance(model, {"proc": 3})


def _ordered_mutex():
    """Lowest-numbered waiting process enters; at most one is in the critical section."""
    W = EnumDomain("where", ["IDLE", "WAIT", "CS"])
    spec = Spec("mutex", sorts=[P], default_sizes={"proc": 3})
    m = spec.machine("m")
    at = m.var("at", W, index=[P], init="IDLE")
    m.transition("want", {"p": P}, guard=lambda p: at[p] == W.IDLE, updates=lambda p: [at[p].becomes(W.WAIT)])
    m.transition("enter", {"p": P},
                 guard=lambda p: (at[p] == W.WAIT) & forall(P, lambda q: (at[q] != W.CS) & implies(q < p, at[q] != W.WAIT)),
                 updates=lambda p: [at[p].becomes(W.CS)])
    m.transition("leave", {"p": P}, guard=lambda p: at[p] == W.CS, updates=lambda p: [at[p].becomes(W.IDLE)])
    spec.invariant("mutex", forall(P, lambda p: forall(P, lambda q: implies((at[p] == W.CS) & (at[q] == W.CS), p <= q))),
                   doc="at most one process in the critical section")
    spec.invariant("first_has_priority", implies(at[P.first()] == W.WAIT,
                                                 forall(P, lambda q: implies(P.first() < q, at[q] != W.CS) | TRUE)),
                   doc="a tautology that names the first element")
    spec.goal("last_enters", at[P.last()] == W.CS, doc="the last process can enter")
    return spec.build(DEFAULT)


def test_order_and_named_elements_in_every_engine_and_in_proofs_for_every_size():
    model = _ordered_mutex()
    total = agree(model)
    assert total == explore(Instance(model, {"proc": 3})).states
    assert explore(Instance(model)).verdict == "holds"
    fin = prove(model)
    assert fin.verdict == "proven", fin
    every = prove(model, all_sizes=True)
    assert every.verdict == "proven", every


def test_a_ring_is_refused_in_proofs_for_every_size_with_the_reason():
    model = _ring(named=False)
    with pytest.raises(RingNotFirstOrder, match="used as a ring"):
        prove(model, all_sizes=True)
    assert prove(model).verdict in ("proven", "not proven", "violated") or True


def test_order_needs_two_elements_of_one_sort():
    Q = Sort("other", "q")
    spec = Spec("bad_order", sorts=[P, Q])
    m = spec.machine("m")
    with pytest.raises(ModelError, match="two elements of one sort"):
        m.transition("t", {"p": P, "q": Q}, guard=lambda p, q: p < q)


# -- variants ------------------------------------------------------------------------------------

def _switched(variant: Variant):
    Pc = EnumDomain.variant("pc", ["IDLE", ("PREEMPTED", variant.switches["preemptible"]), "DONE"])
    spec = Spec("switched", sorts=[], variant=variant)
    m = spec.machine("m")
    pc = m.var("pc", Pc, init="IDLE")
    extra = m.var("extra", BOOL, init=False, when=spec.switch("preemptible"), why="only where the handler is preemptible")
    ups = [pc().becomes(Pc.PREEMPTED)] if spec.switches["preemptible"] else [pc().becomes(Pc.DONE)]
    m.transition("go", guard=pc() == Pc.IDLE, updates=ups,
                 doc=spec.text("preemptible", "interrupts on: the thread may be preempted", "interrupts off"))
    m.transition("again", guard=pc() == Pc.DONE, updates=[pc().becomes(Pc.IDLE)])
    if spec.switch("preemptible"):
        m.transition("resume", guard=pc() == Pc.PREEMPTED, updates=[pc().becomes(Pc.DONE), extra().becomes(True)])
    spec.invariant("ends", TRUE, doc="trivial")
    return spec.build(), pc, extra, Pc


def test_variant_only_variables_and_members_exist_only_in_their_variant():
    on = Variant("on", "preemptible", kind="mutant", switches={"preemptible": True}, changed=("preemptible",),
                 holds="the extra state only delays DONE")
    off = Variant("off", "not preemptible", switches={"preemptible": False})
    m_on, _, _, _ = _switched(on)
    m_off, pc, extra, Pc = _switched(off)
    assert [v.name for v in m_on.vars] == ["pc", "extra"] and [v.name for v in m_off.vars] == ["pc"]
    assert Pc.members == ("IDLE", "DONE")
    with pytest.raises(LangTypeError, match="member 'PREEMPTED' of pc does not exist in this variant"):
        Pc.PREEMPTED
    with pytest.raises(LangTypeError, match="variable 'extra' of machine 'm' does not exist in variant 'off'"):
        extra() == True  # noqa: E712
    assert m_on.action("go").doc.startswith("interrupts on") and m_off.action("go").doc == "interrupts off"
    assert explore(Instance(m_on)).verdict == "holds" and on.holds  # an expected-to-hold variant, tested to hold


def test_unknown_and_unread_switches_are_build_errors():
    spec = Spec("s", sorts=[], variant=Variant("v", "", switches={"a": True}))
    with pytest.raises(ModelError, match="unknown switch 'b'"):
        spec.switch("b")
    spec = Spec("s", sorts=[], variant=Variant("v", "", switches={"a": True}, changed=("a",)))
    spec.machine("m").var("x", BOOL, init=False)
    with pytest.raises(ModelError, match="never reads .*: a"):
        spec.build()


def test_a_variant_cannot_both_break_a_property_and_hold():
    with pytest.raises(ValueError):
        Variant("v", "", expected="p", holds="why")


# -- a variable read without its call -----------------------------------------------------------

@pytest.mark.parametrize("misuse", [
    lambda f, x: f == True,  # noqa: E712
    lambda f, x: ~f,
    lambda f, x: f & x[P.first()],
    lambda f, x: x[P.first()] | f,
    lambda f, x: implies(f, True),
    lambda f, x: ite(f, 1, 2),
])
def test_a_scalar_variable_used_without_its_call_is_a_build_error(misuse):
    spec = Spec("uncalled", sorts=[P])
    m = spec.machine("m")
    flag = m.var("flag", BOOL, init=False)
    x = m.var("x", BOOL, index=[P], init=False)
    with pytest.raises(ModelError, match=r"'flag' is a variable, not a value: read it as flag\(\)"):
        m.transition("t", guard=lambda: misuse(flag, x))


def test_variables_still_work_as_dictionary_keys_and_in_sets():
    spec = Spec("keys", sorts=[])
    m = spec.machine("m")
    a = m.var("a", BOOL, init=False)
    b = m.var("b", BOOL, init=False)
    assert {a: 1, b: 2}[a] == 1 and a in {a, b} and a != b and a == a
    assert exists(BOOL, lambda v: v == a()) is not None


def test_a_parameter_bound_to_a_wider_range_is_a_build_error():
    """Binding a range parameter (in a sync) to an expression that may leave its range would let
    an index step outside its variable: the build refuses it, as it refuses such an index."""
    spec = Spec("sync_range", sorts=[])
    m = spec.machine("m")
    flags = m.var("flags", BOOL, index=[RangeDomain(1, 2)], init=False)
    n = m.var("n", RangeDomain(1, 2), init=1)
    t = m.transition("setf", {"x": RangeDomain(1, 2)}, updates=lambda x: [flags[x].becomes(True)])
    with pytest.raises(ModelError, match=r"argument 'x' may be 2..3, outside the parameter's range 1..2"):
        spec.sync("s1", {}, lambda: [t(n() + 1)])
    spec.sync("s2", {}, lambda: [t(n())])  # in range: fine


def test_an_initial_value_that_reads_a_variable_is_a_build_error():
    spec = Spec("init_reads", sorts=[])
    m = spec.machine("m")
    n = m.var("n", RangeDomain(1, 2), init=1)
    with pytest.raises(ModelError, match="an initial value cannot read a state variable"):
        m.var("bad", BOOL, init=lambda: n() == 1)


def test_build_with_a_variant_name_instead_of_a_variant_is_a_model_error():
    """A model module's build(name) must look the name up; passing the string on is one clear
    error, not a crash deep in an engine."""
    spec = Spec("named", sorts=[])
    spec.machine("m").var("x", BOOL, init=False)
    with pytest.raises(ModelError, match="build\\(\\) takes a Variant, not str 'v'"):
        spec.build("v")  # type: ignore[arg-type]
