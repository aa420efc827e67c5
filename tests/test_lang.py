"""The model language: what it accepts, what it rejects (with the machine, transition and
variable named), and how expressions print."""

from __future__ import annotations

import pytest

from lbrspec.errors import ModelError
from lbrspec.explicit.evaluate import evaluate
from lbrspec.explicit.instance import Instance
from lbrspec.lang import (
    BOOL,
    EnumDomain,
    RangeDomain,
    Sort,
    Spec,
    UnionDomain,
    Variant,
    exists,
    forall,
    implies,
    ite,
    show,
)
from lbrspec.lang.expr import LangTypeError

V = Sort("vCPU", "v")
P = Sort("pCPU", "p")
Mode = EnumDomain("mode", ["OFF", "ON"])
Tag = UnionDomain("tag", consts=("none",), ctors=(("vcpu", V),))


def two_machines():
    spec = Spec("t", sorts=[V, P])
    a = spec.machine("a")
    x = a.var("x", BOOL, index=[V], init=False)
    b = spec.machine("b", reads=["a"])
    y = b.var("y", Mode, index=[P], init="OFF")
    return spec, a, x, b, y


def test_a_write_to_another_machines_variable_is_rejected_naming_all_three():
    spec, a, x, b, y = two_machines()
    b.transition("bad", {"v": V}, updates=lambda v: [x[v].becomes(True)])
    with pytest.raises(ModelError) as e:
        spec.build(Variant("d", "d"))
    msg = str(e.value)
    assert "machine 'b'" in msg and "transition 'bad'" in msg and "variable 'x'" in msg
    assert "owned by machine 'a'" in msg


def test_an_undeclared_cross_machine_read_is_rejected():
    spec, a, x, b, y = two_machines()
    a.transition("peek", {"p": P, "v": V}, guard=lambda p, v: y[p] == Mode.ON, updates=lambda p, v: [x[v].becomes(True)])
    with pytest.raises(ModelError, match=r"machine 'a', transition 'peek', variable 'y': reads a variable of machine 'b' without declaring"):
        spec.build(Variant("d", "d"))


def test_a_declared_read_is_accepted():
    spec, a, x, b, y = two_machines()
    b.transition("follow", {"p": P, "v": V}, guard=lambda p, v: x[v], updates=lambda p, v: [y[p].becomes(Mode.ON)])
    m = spec.build(Variant("d", "d"))
    assert [act.name for act in m.actions] == ["follow"]


def test_conflicting_updates_within_a_transition_are_rejected():
    spec, a, x, b, y = two_machines()
    a.transition("twice", {"v": V, "w": V}, updates=lambda v, w: [x[v].becomes(True), x[w].becomes(False)])
    with pytest.raises(ModelError, match=r"transition 'twice', variable 'x': conflicting updates"):
        spec.build(Variant("d", "d"))


def test_conflicting_updates_across_the_parts_of_a_sync_are_rejected():
    spec, a, x, b, y = two_machines()
    t1 = a.transition("on", {"v": V}, updates=lambda v: [x[v].becomes(True)])
    t2 = a.transition("off", {"v": V}, updates=lambda v: [x[v].becomes(False)])
    spec.sync("both", {"v": V}, lambda v: [t1(v), t2(v)])
    with pytest.raises(ModelError, match=r"sync 'both', variable 'x': conflicting updates: written by both 'a.on' and 'a.off'"):
        spec.build(Variant("d", "d"))


def test_out_of_domain_values_are_rejected_at_build_time():
    spec = Spec("t", sorts=[V])
    m = spec.machine("m")
    with pytest.raises(ModelError, match=r"machine 'm', variable 'n': initial value: integer 9 is outside the domain 0..3"):
        m.var("n", RangeDomain(0, 3), init=9)
    n = m.var("k", RangeDomain(0, 3), init=0)
    with pytest.raises(ModelError, match=r"machine 'm', transition 'big', variable 'k': .*outside the domain 0..3"):
        m.transition("big", updates=lambda: [n().becomes(7)])
    with pytest.raises(ModelError, match=r"variable 'mode': initial value: 'DIM' is not a member of mode"):
        m.var("mode", Mode, init="DIM")


def test_unknown_names_are_rejected():
    spec = Spec("t", sorts=[V])
    m = spec.machine("m", reads=["ghost_machine"])
    m.var("x", Mode, index=[V], init="OFF")
    with pytest.raises(ModelError, match="reads unknown machine 'ghost_machine'"):
        spec.build(Variant("d", "d"))
    spec2 = Spec("t2", sorts=[V])
    m2 = spec2.machine("m")
    x2 = m2.var("x", Mode, index=[V], init="OFF")
    with pytest.raises(ModelError, match=r"transition 'bad': unknown member 'ONN' of mode"):
        m2.transition("bad", {"v": V}, updates=lambda v: [x2[v].becomes(Mode.ONN)])


def test_a_variable_of_another_model_is_rejected():
    spec, a, x, b, y = two_machines()
    other = Spec("o", sorts=[V])
    z = other.machine("o").var("z", BOOL, index=[V], init=False)
    a.transition("foreign", {"v": V}, guard=lambda v: z[v], updates=lambda v: [x[v].becomes(True)])
    with pytest.raises(ModelError, match=r"variable 'z': reads a variable that is not part of this model"):
        spec.build(Variant("d", "d"))


def test_type_errors_name_the_transition():
    spec, a, x, b, y = two_machines()
    with pytest.raises(ModelError, match=r"machine 'a', transition 'mixed': cannot compare mode with bool"):
        a.transition("mixed", {"v": V, "p": P}, guard=lambda v, p: y[p] == x[v])
    with pytest.raises(ModelError, match=r"index of 'x' must be of sort vCPU, got pCPU"):
        a.transition("wrong_index", {"p": P}, guard=lambda p: x[p])


def test_variables_must_declare_an_initial_value():
    spec = Spec("t", sorts=[V])
    with pytest.raises(ModelError, match="needs an initial value"):
        spec.machine("m").var("x", BOOL)


def test_expressions_have_no_python_truth_value():
    spec, a, x, b, y = two_machines()
    with pytest.raises(ModelError, match="no Python truth value"):
        a.transition("pythonic", {"v": V}, guard=lambda v: x[v] and x[v])  # type: ignore[truthy-bool]


def test_printing_keeps_definitions_by_name():
    spec, a, x, b, y = two_machines()
    on = spec.define("on", {"p": P}, lambda p: y[p] == Mode.ON)
    e = forall(P, lambda p: implies(on(p), exists(V, lambda v: x[v])))
    assert show(e) == "forall p: pCPU. on(p) => (exists v: vCPU. x[v])"
    assert show(e, expand_defs=True) == "forall p: pCPU. y[p] = ON => (exists v: vCPU. x[v])"


def test_the_frame_is_implicit_and_updates_read_the_pre_state():
    spec = Spec("t", sorts=[V])
    m = spec.machine("m")
    x = m.var("x", BOOL, index=[V], init=False)
    y = m.var("y", BOOL, init=True)
    m.transition("swap", updates=[x.becomes_all(lambda v: y()), y().becomes(False)])
    model = spec.build(Variant("d", "d"))
    inst = Instance(model, {"vCPU": 2})
    from lbrspec.explicit.evaluate import step

    (s0,) = inst.initial_states()
    s1 = step(inst, model.actions[0], (), s0)
    assert inst.decode(s1) == {"x[v0]": True, "x[v1]": True, "y": False}


def test_union_values_evaluate_consistently():
    spec = Spec("t", sorts=[V])
    m = spec.machine("m")
    t = m.var("t", Tag, index=[V], init="none")
    m.transition("claim", {"v": V}, updates=lambda v: [t[v].becomes(Tag("vcpu", v))])
    model = spec.build(Variant("d", "d"))
    inst = Instance(model, {"vCPU": 3})
    from lbrspec.explicit.evaluate import step

    (s0,) = inst.initial_states()
    v2 = model.actions[0].params[0]
    s1 = step(inst, model.actions[0], (2,), s0)
    assert inst.decode(s1)["t[v2]"].tag == "vcpu" and str(inst.decode(s1)["t[v2]"]) == "vcpu(v2)"
    assert evaluate(ite(t[v2].is_("vcpu"), True, False), inst, s1, {v2: 2})
    assert not evaluate(t[v2].is_("vcpu"), inst, s1, {v2: 1})


def test_lang_type_error_is_a_value_error():
    assert issubclass(LangTypeError, ValueError)
