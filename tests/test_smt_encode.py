"""The Z3 translator agrees with the reference evaluator: random expressions on random states
(finite and unbounded encodings), random steps, and the states bounded model checking reaches
in k steps against the explorer's breadth-first layers."""

from __future__ import annotations

import pytest
import z3
from conftest import model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbrspec.errors import EvaluationError
from lbrspec.explicit.evaluate import evaluate, successors
from lbrspec.explicit.evaluate import step as eval_step
from lbrspec.explicit.explore import explore
from lbrspec.explicit.instance import Instance
from lbrspec.lang import ANY, BOOL, EnumDomain, RangeDomain, Sort, SortDomain, Spec, UnionDomain, Variant, ite
from lbrspec.lang.expr import (
    And,
    Apply,
    Arith,
    Cmp,
    Ctor,
    Eq,
    Expr,
    Implies,
    IsTag,
    Ite,
    Lit,
    Local,
    Not,
    Or,
    Quant,
    VarRef,
)
from lbrspec.smt.bmc import states_at_depth
from lbrspec.smt.encode import Encoding

# -- a toy model with every kind of domain -------------------------------------------------------
V = Sort("thread", "v")
P = Sort("core", "p")
COLOR = EnumDomain("color", ["RED", "GREEN", "BLUE"])
TAG = UnionDomain("owner", consts=("none", "host"), ctors=(("vcpu", V), ("core", P)))
COUNT = RangeDomain(0, 3)


def _toy():
    spec = Spec("toy", sorts=[V, P], default_sizes={"thread": 2, "core": 2})
    m = spec.machine("m")
    flag = m.var("flag", BOOL, init=[False, True])
    on = m.var("on", BOOL, index=[V], init=False)
    col = m.var("col", COLOR, index=[P], init="RED")
    where = m.var("where", P, index=[V], init=ANY)
    tag = m.var("tag", TAG, index=[P], init="none")
    own = m.var("own", TAG, index=[V], init=lambda v: TAG("vcpu", v))
    cnt = m.var("cnt", COUNT, index=[V], init=0)
    link = m.var("link", BOOL, index=[V, P], init=False)
    level = m.var("level", COUNT, init=[1, 2])
    at = spec.define("at", {"v": V, "p": P}, lambda v, p: on[v] & (where[v] == p))
    m.transition("start", {"v": V, "p": P}, guard=lambda v, p: ~on[v],
                 updates=lambda v, p: [on[v].becomes(True), where[v].becomes(p), tag[p].becomes(TAG("vcpu", v)),
                                       link[v, p].becomes(True)])
    m.transition("bump", {"v": V}, guard=lambda v: on[v] & (cnt[v] < 3),
                 updates=lambda v: [cnt[v].becomes(cnt[v] + 1), flag().becomes(~flag())])
    m.transition("paint", {"p": P, "c": COLOR}, guard=lambda p, c: col[p] != c,
                 updates=lambda p, c: [col.becomes_all(lambda q: ite(q == p, c, col[q])),
                                       tag.becomes_all(lambda q: ite(q == p, TAG.host, tag[q]))])
    m.transition("leave", {"v": V}, guard=lambda v: on[v],
                 updates=lambda v: [on[v].becomes(False), own[v].becomes(TAG("core", where[v])),
                                    link.becomes_all(lambda w, q: link[w, q] & (w != v)), level().becomes(level() - 1)])
    spec.invariant("sane", flag() | ~flag(), doc="trivial")
    return spec.build(Variant("toy", "every domain kind")), at


TOY, AT = _toy()
VARS = {v.name: v for v in TOY.vars}


# -- random expressions -------------------------------------------------------------------------
def _kinds():
    return ["bool", "enum", "range", "V", "P", "union"]


@st.composite
def exprs(draw, kind: str, depth: int, scope: dict[str, list[Local]]) -> Expr:
    """A random well-typed expression of ``kind`` using the locals in ``scope``."""
    leaf = depth <= 0

    def sub(k: str) -> Expr:
        return draw(exprs(k, depth - 1, scope))

    def sort_expr(k: str) -> Expr:
        opts = ["local"] + ([] if leaf else ["var", "ite"])
        choice = draw(st.sampled_from(opts))
        if choice == "var" and k == "P":
            return VarRef(VARS["where"], (draw(exprs("V", depth - 1, scope)),))
        if choice == "ite":
            return Ite(sub("bool"), sub(k), sub(k))
        return draw(st.sampled_from(scope[k]))

    if kind in ("V", "P"):
        return sort_expr(kind)
    if kind == "enum":
        opts = ["lit", "var"] + ([] if leaf else ["ite"])
        c = draw(st.sampled_from(opts))
        if c == "lit":
            return Lit(COLOR, draw(st.integers(0, 2)))
        if c == "var":
            return VarRef(VARS["col"], (sort_expr("P"),))
        return Ite(sub("bool"), sub("enum"), sub("enum"))
    if kind == "range":
        opts = ["lit", "var", "scalar"] + ([] if leaf else ["arith", "ite"])
        c = draw(st.sampled_from(opts))
        if c == "lit":
            return Lit(COUNT, draw(st.integers(0, 3)))
        if c == "var":
            return VarRef(VARS["cnt"], (sort_expr("V"),))
        if c == "scalar":
            return VarRef(VARS["level"], ())
        if c == "arith":
            return Arith(draw(st.sampled_from(["+", "-"])), sub("range"), sub("range"))
        return Ite(sub("bool"), sub("range"), sub("range"))
    if kind == "union":
        opts = ["const", "ctor_v", "ctor_p", "tag", "own"] + ([] if leaf else ["ite"])
        c = draw(st.sampled_from(opts))
        if c == "const":
            return Lit(TAG, draw(st.integers(0, 1)))
        if c == "ctor_v":
            return Ctor(TAG, "vcpu", sort_expr("V"))
        if c == "ctor_p":
            return Ctor(TAG, "core", sort_expr("P"))
        if c == "tag":
            return VarRef(VARS["tag"], (sort_expr("P"),))
        if c == "own":
            return VarRef(VARS["own"], (sort_expr("V"),))
        return Ite(sub("bool"), sub("union"), sub("union"))
    # bool
    opts = ["lit", "flag", "on", "link"]
    if not leaf:
        # quantifiers, comparisons and tag tests are where encodings differ most: weight them up
        opts += ["not", "and", "or", "implies", "eq", "ite", "apply"] + ["cmp", "istag", "eq"] * 2 + ["quant"] * 4
    c = draw(st.sampled_from(opts))
    if c == "lit":
        return Lit(BOOL, draw(st.integers(0, 1)))
    if c == "flag":
        return VarRef(VARS["flag"], ())
    if c == "on":
        return VarRef(VARS["on"], (sort_expr("V"),))
    if c == "link":
        return VarRef(VARS["link"], (sort_expr("V"), sort_expr("P")))
    if c == "not":
        return Not(sub("bool"))
    if c in ("and", "or"):
        args = [sub("bool") for _ in range(draw(st.integers(2, 3)))]
        return And(*args) if c == "and" else Or(*args)
    if c == "implies":
        return Implies(sub("bool"), sub("bool"))
    if c == "eq":
        k = draw(st.sampled_from(_kinds()))
        return Eq(draw(exprs(k, depth - 1, scope)), draw(exprs(k, depth - 1, scope)))
    if c == "ite":
        return Ite(sub("bool"), sub("bool"), sub("bool"))
    if c == "cmp":
        return Cmp(draw(st.sampled_from(["<", "<="])), sub("range"), sub("range"))
    if c == "istag":
        return IsTag(sub("union"), draw(st.sampled_from(["none", "host", "vcpu", "core"])))
    if c == "apply":
        return Apply(AT, (sort_expr("V"), sort_expr("P")))
    # a quantifier over a sort, a union or a finite domain; its variable joins the scope
    over = draw(st.sampled_from(["V", "P", "union", "bool", "enum"]))
    dom = {"V": SortDomain(V), "P": SortDomain(P), "union": TAG, "bool": BOOL, "enum": COLOR}[over]
    x = Local(f"q{depth}", dom)
    inner = dict(scope)
    if over in ("V", "P"):
        inner[over] = scope[over] + [x]
    body = draw(exprs("bool", depth - 1, inner))
    if over in ("union", "bool", "enum"):  # use the bound variable in the body too
        body = Or(body, Eq(x, draw(exprs(over, 0, inner))))
    return Quant(draw(st.booleans()), x, body)


FREE_V = Local("fv", SortDomain(V))
FREE_P = Local("fp", SortDomain(P))


@st.composite
def cases(draw):
    sizes = {"thread": draw(st.integers(1, 3)), "core": draw(st.integers(1, 3))}
    inst = Instance(TOY, sizes)
    kind = draw(st.sampled_from(["bool"] * 5 + _kinds()))  # mostly formulas: they have the most cases
    e = draw(exprs(kind, draw(st.integers(1, 4)), {"V": [FREE_V], "P": [FREE_P]}))
    state = tuple(draw(st.sampled_from(list(inst.domain_codes(sl.var.dom)))) for sl in inst.slots)
    env = {FREE_V: draw(st.integers(0, sizes["thread"] - 1)), FREE_P: draw(st.integers(0, sizes["core"] - 1))}
    return inst, e, state, env


def _finite_value(inst: Instance, e: Expr, state, env) -> int:
    enc = Encoding(TOY, inst.sizes_by_name())
    s = enc.state("s")
    solver = enc.solver()
    solver.add(enc.pin(s, state))
    term = enc.expr(e, s, {x: enc.value(x.dom, c) for x, c in env.items()})
    assert solver.check() == z3.sat
    return enc.read_code(solver.model(), term, e.dom)


def _unbounded_value(inst: Instance, e: Expr, state, env) -> int:
    """Z3's value of ``e`` in the unbounded encoding, in a structure made to be ``state``:
    each sort is exactly n distinct constants, each union sort exactly its values."""
    enc = Encoding(TOY, None)
    solver = enc.solver()
    elems = {}
    for srt in TOY.sorts:
        zs = enc.sort(SortDomain(srt))
        cs = [z3.Const(f"{srt.prefix}{i}", zs) for i in range(inst.sizes[srt])]
        x = z3.Const(f"all!{srt.name}", zs)
        solver.add(z3.ForAll([x], z3.Or([x == c for c in cs])))
        if len(cs) > 1:
            solver.add(z3.Distinct(*cs))
        elems[srt] = cs
    u = enc.union(TAG)
    t = z3.Const("all!owner", u.sort)
    members = list(u.consts) + [u.ctor(c, e) for c, srt in TAG.ctors for e in elems[srt]]
    solver.add(z3.ForAll([t], z3.Or([t == m for m in members])))

    def value(dom, code):
        if isinstance(dom, SortDomain):
            return elems[dom.sort][code]
        if isinstance(dom, UnionDomain) and code >= len(dom.consts):
            off = len(dom.consts)
            for c, srt in dom.ctors:
                if code < off + inst.sizes[srt]:
                    return u.ctor(c, elems[srt][code - off])
                off += inst.sizes[srt]
        return enc.value(dom, code)

    s = enc.state("s")
    for sl, code in zip(inst.slots, state):
        solver.add(s.read(sl.var, [elems[d.sort][i] for d, i in zip(sl.var.index, sl.index)]) == value(sl.var.dom, code))
    term = enc.expr(e, s, {x: value(x.dom, c) for x, c in env.items()})
    # The structure is determined up to isomorphism, so exactly one value must be possible.
    if isinstance(e.dom, RangeDomain):  # arithmetic may leave the nominal range: read the integer
        out = z3.Int("out", enc.ctx)
        assert solver.check(out == term) == z3.sat
        n = solver.model()[out].as_long()
        assert solver.check(out == term, out != n) == z3.unsat
        return n
    possible = [code for code in inst.domain_codes(e.dom) if solver.check(term == value(e.dom, code)) == z3.sat]
    assert len(possible) == 1, f"values Z3 allows for {e!r}: {possible}"
    return possible[0]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
@pytest.mark.long
def test_random_expressions_agree_with_the_reference_evaluator(case):
    inst, e, state, env = case
    want = int(evaluate(e, inst, state, env))
    assert _finite_value(inst, e, state, env) == want


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
@pytest.mark.long
def test_random_expressions_agree_in_the_unbounded_encoding(case):
    """Quantifiers over sorts stay quantifiers and unions are an uninterpreted sort there; on a
    structure that is exactly the state, the value is still the reference one."""
    inst, e, state, env = case
    want = int(evaluate(e, inst, state, env))
    assert _unbounded_value(inst, e, state, env) == want


@st.composite
def steps(draw):
    sizes = {"thread": draw(st.integers(1, 2)), "core": draw(st.integers(1, 2))}
    inst = Instance(TOY, sizes)
    state = tuple(draw(st.sampled_from(list(inst.domain_codes(sl.var.dom)))) for sl in inst.slots)
    action = draw(st.sampled_from(TOY.actions))
    params = tuple(draw(st.sampled_from(list(inst.domain_codes(p.dom)))) for p in action.params)
    return inst, state, action, params


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps())
@pytest.mark.long
def test_random_steps_agree_in_the_transition_relation_and_the_substituted_post_state(case):
    inst, state, action, params = case
    try:
        want = eval_step(inst, action, params, state)
    except EvaluationError:  # an out-of-range write: the Z3 side must flag it too
        want = "error"
    enc = Encoding(TOY, inst.sizes_by_name())
    pre, post, stp = enc.state("pre"), enc.state("post"), enc.step("x")
    fixed = [enc.pin(pre, state), stp.act == enc.action_const[action.name]]
    fixed += [x == enc.value(p.dom, c) for p, x, c in zip(action.params, stp.params[action.name], params)]
    solver = enc.solver()
    solver.add(*fixed)
    bad = solver.check(enc.write_errors(pre, stp)) == z3.sat
    assert bad == (want == "error")
    if want == "error":
        return
    rel = solver.check(enc.transition(pre, post, stp))
    assert (rel == z3.sat) == (want is not None)
    if want is None:
        return
    m = solver.model()
    got = enc.decode(m, [post], []).states[0]
    assert got == want
    after = enc.after(action, pre, stp)
    assert solver.check(enc.guard(action, pre, stp)) == z3.sat
    assert enc.decode(solver.model(), [after], []).states[0] == want


# -- bounded model checking against breadth-first layers ------------------------------------------
@pytest.mark.long
def test_states_reachable_in_k_steps_match_the_explorers_layers():
    """On the default v8 instance: the states at the end of k-step runs, enumerated by the
    solver, are the reference successors of those at k-1, and the new ones among them are
    exactly the explorer's breadth-first layer k."""
    m = model("v8")
    inst = Instance(m)
    r = explore(inst)
    layers: dict[int, set] = {}
    for sid in range(r.states):
        k = len(r.trace_to(sid))
        if k > 3:
            break
        layers.setdefault(k, set()).add(r.state(sid))
    seen: set = set()
    prev: set | None = None
    for k in range(4):
        got = states_at_depth(m, None, k)
        if prev is None:
            assert got == set(inst.initial_states())
        else:
            assert got == {t for s in prev for _, _, t in successors(inst, s)}
        assert got - seen == layers[k]
        seen |= got
        prev = got


@pytest.mark.parametrize("k", [0, 1])
@pytest.mark.long
def test_states_at_depth_on_a_bigger_instance(k):
    m = model("v8")
    inst = Instance(m, {"vCPU": 3, "pCPU": 2, "host_user": 2})
    frontier = set(inst.initial_states())
    for _ in range(k):
        frontier = {t for s in frontier for _, _, t in successors(inst, s)}
    assert states_at_depth(m, inst.sizes_by_name(), k) == frontier
