"""lbrspec.lang.parse: the text show() prints reads back as the same expression, and any other
text is refused with one InputError line."""

from __future__ import annotations

import functools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbrspec.errors import InputError
from lbrspec.explicit.evaluate import holds
from lbrspec.explicit.instance import Instance
from lbrspec.lang import BOOL, RangeDomain, Sort, Spec, Variant
from lbrspec.lang.expr import And, Eq, Lit, Local, Or, Quant, SortConst, VarRef, expand, transform
from lbrspec.lang.parse import MAX_DEPTH, MAX_LENGTH, parse_expr
from lbrspec.lang.pretty import show
from lbrspec.modelref import load_model, shipped_models

MODELS = shipped_models()  # guest_lbr, upstream_lbr and every example model


@functools.lru_cache(maxsize=None)
def built(name: str, variant: str | None = None):
    return load_model(name).build(variant)


def model_exprs(model):
    """(what, expression, locals) for every invariant, goal, definition body and guard."""
    for i in model.invariants:
        yield f"invariant {i.name}", i.body, {}
    for g in model.goals:
        params = g.params + (g.on.params if g.on is not None else ())
        yield f"goal {g.name}", g.body, {p.name: p for p in params}
    for d in model.definitions:
        yield f"definition {d.name}", d.body, {p.name: p for p in d.params}
    for a in model.actions:
        yield f"guard {a.name}", a.guard, {p.name: p for p in a.params}


def collapse(e):
    """``e`` without one-operand and/or nodes (which print as their operand, so no text
    rebuilds them)."""
    return transform(e, lambda n: n.args[0] if isinstance(n, (And, Or)) and len(n.args) == 1 else None)


def reparse(text, model, locals_, e):
    return parse_expr(text, model, locals=locals_, expect_bool=e.dom is BOOL or e.dom.name == "bool",
                      max_length=100_000)


def variants(name):
    return [(name, v) for v in load_model(name).all_variants()]


@pytest.mark.parametrize("name,variant", [nv for n in MODELS for nv in variants(n)])
def test_show_parse_show_is_the_identity_on_every_model_expression(name, variant):
    model = built(name, variant)
    count = 0
    for what, e, locals_ in model_exprs(model):
        for expand_defs in (False, True):
            text = show(e, expand_defs=expand_defs)
            back = reparse(text, model, locals_, e)
            assert show(back) == show(collapse(expand(e) if expand_defs else e)), (what, expand_defs, text)
            count += 1
    assert count >= 4


def random_states(inst, n, seed):
    rng = random.Random(seed)
    states = [inst.initial_state(i) for i in range(min(3, inst.initial_count()))]
    states += [tuple(rng.randrange(k) for k in inst.slot_size) for _ in range(n)]
    return states


@pytest.mark.parametrize("name", MODELS)
def test_the_parsed_expression_means_the_same_on_random_states(name):
    model = built(name)
    inst = Instance(model)
    states = random_states(inst, 25, name)
    checked = 0
    for what, e, locals_ in model_exprs(model):
        if e.dom.name != "bool":
            continue
        params = list(locals_.values())
        bindings = inst.bindings(params)[:6]
        for expand_defs in (False, True):
            back = reparse(show(e, expand_defs=expand_defs), model, locals_, e)
            for codes in bindings:
                env = dict(zip(params, codes))
                for s in states:
                    assert holds(back, inst, s, env) == holds(e, inst, s, env), (what, expand_defs, s, codes)
                    checked += 1
    assert checked > 100


@pytest.fixture(scope="module")
def lbr():
    return built("guest_lbr")


def test_names_resolve_by_the_domain_they_meet(lbr):
    e = parse_expr("exists v: vCPU. pc[v] = IDLE and ev[v] = ACTIVE", lbr)
    assert show(e) == "exists v: vCPU. pc[v] = IDLE and ev[v] = ACTIVE"
    assert isinstance(e, Quant)
    # ACTIVE is a member of ev_state and of host_state: each side takes the other's domain
    eq = parse_expr("ACTIVE = ev[v1]", lbr)
    assert isinstance(eq, Eq) and eq.a.dom is lbr.var("ev").dom
    with pytest.raises(InputError, match=r"'ACTIVE' is a value of .* and of .*: compare it"):
        parse_expr("ACTIVE = ACTIVE", lbr)
    rec = parse_expr("rec[p1] = none or rec[p1] = vcpu(v1) or rec[first(pCPU)] is host", lbr)
    assert show(rec) == "rec[p1] = none or rec[p1] = vcpu(v1) or rec[first(pCPU)] is host"
    # a sort element by its display name; v0 is the first element
    el = parse_expr("cpu[v0] = p1", lbr)
    assert isinstance(el.a, VarRef) and isinstance(el.a.args[0], SortConst) and el.a.args[0].index == 0
    assert isinstance(el.b, SortConst) and el.b.index == 1
    assert show(parse_expr("next(v0, 2) = prev(last(vCPU) - 1)", lbr)) == "next(first(vCPU), 2) = prev(last(vCPU) - 1)"


def tiny_model():
    P = Sort("Proc", "p")
    spec = Spec("tiny", sorts=[P], default_sizes={"Proc": 2})
    m = spec.machine("m")
    n = m.var("n", RangeDomain(-2, 3), init=0)
    crit = m.var("crit", BOOL, index=[P], init=False)
    m.var("flag", BOOL, init=False)
    spec.define("nobody", {}, lambda: ~crit[P.first()])
    m.transition("inc", guard=lambda: n() < 3, updates=lambda: [n().becomes(n() + 1)])
    return spec.build(Variant("only", "the only variant"))


@pytest.mark.parametrize("text,shown", [
    ("flag or flag and not flag => flag", "flag or flag and not flag => flag"),
    ("(flag => flag) => flag", "(flag => flag) => flag"),
    ("flag => (flag => flag)", "flag => flag => flag"),
    ("not (flag and flag) or (flag or flag)", "not (flag and flag) or flag or flag"),
    ("n > 0", "0 < n"),
    ("n >= 1 + 1 * 2", "1 + 1 * 2 <= n"),
    ("3 * n % 2 = (-1) - 1", "n * 3 % 2 = (-1) - 1"),
    ("n - (1 - 2) = -1", "n - (1 - 2) = (-1)"),
    ("(if flag then n else 0) = 1", "(if flag then n else 0) = 1"),
    ("if flag then n = 1 else n = 2", "if flag then n = 1 else n = 2"),
    ("crit[p1] != (flag = nobody())", "crit[p1] != (flag = nobody())"),
])
def test_operators_precedence_and_the_spelled_out_comparisons(text, shown):
    model = tiny_model()
    assert show(parse_expr(text, model)) == shown
    assert show(parse_expr(shown, model)) == shown


def test_locals_may_be_domains_or_the_callers_own_locals(lbr):
    v = Local("v", lbr.var("pc").index[0])
    e = parse_expr("pc[v] = IDLE and cpu[w] = p", lbr, locals={"v": v, "w": lbr.sort("vCPU"), "p": lbr.sort("pCPU")})
    assert e.args[0].a.args[0] is v
    w, p = e.args[1].a.args[0], e.args[1].b
    assert isinstance(w, Local) and w.name == "w" and isinstance(p, Local) and p.dom.name == "pCPU"
    # the bound name shadows the local of the same name
    q = parse_expr("exists v: vCPU. pc[v] = IDLE", lbr, locals={"v": v})
    assert q.body.a.args[0] is q.var and q.var is not v
    counter = lbr.var("ev_counter").dom
    assert parse_expr("ev_counter[v]", lbr, locals={"v": v}, expect_bool=False).dom is counter
    with pytest.raises(InputError, match="unknown name 'v'"):
        parse_expr("pc[v] = IDLE", lbr)


@pytest.mark.parametrize("text,message", [
    ("nosuch = 1", r"at column 1: unknown name 'nosuch'"),
    ("pc[v0] = IDEL", r"at column 10: unknown name 'IDEL'; did you mean 'IDLE'\?"),
    ("pc[v0] = none", r"at column 10: 'none' is not a value of kvm_pc \(IDLE, .*\)"),
    ("pc = IDLE", r"at column 1: 'pc' takes 1 index \(a vCPU\), got 0"),
    ("pc[v0, v1] = IDLE", r"at column 1: 'pc' takes 1 index \(a vCPU\), got 2"),
    ("pc[p0] = IDLE", r"at column 1: index of 'pc' must be of sort vCPU, got pCPU"),
    ("pc[v0] = true", r"at column 8: cannot compare kvm_pc with bool"),
    ("cap and pc[v0]", r"at column 5: 'and' needs a boolean, got kvm_pc"),
    ("(cap and cap", r"at column 13: expected '\)' to close the '\(' at column 1, got the end of the text"),
    ("cap and cap)", r"at column 12: unexpected '\)' after a complete expression \(unbalanced parentheses\?\)"),
    ("pc[v0", r"at column 6: expected ',' or '\]' to close the '\[' of 'pc' at column 3, got the end of the text"),
    ("cap cap", r"at column 5: unexpected 'cap' after a complete expression"),
    ("", r"at column 1: empty expression"),
    ("  \n ", r"empty expression"),
    ("cap and", r"at column 8: unexpected end of the text: a value is missing"),
    ("pc[v0] == IDLE", r"at column 8: unexpected '==': write '=' for equality"),
    ("cap && cap", r"unexpected '&&': write 'and'"),
    ("owns(v0)", r"owns takes 2 argument\(s\) \(v: vCPU, p: pCPU\), got 1"),
    ("owns", r"'owns' is a definition: write owns\(...\)"),
    ("rec[p0] is vcpo", r"'vcpo' is not a tag of lbr_tag \(none, host, vcpu\); did you mean 'vcpu'\?"),
    ("pc[v0] is vcpu", r"'is' tests the tag of a union value, got a value of kvm_pc"),
    ("rec[p0] = vcpu(p1)", r"constructor lbr_tag.vcpu takes an element of vCPU"),
    ("forall v: vCPUs. cap", r"unknown sort or domain 'vCPUs' .*did you mean 'vCPU'"),
    ("1 < 2 < 3", r"chained: add parentheses"),
    ("pc[v0]", r"expected a condition \(a boolean\), got a value of kvm_pc"),
    ("cap\nand nosuch", r"at line 2, column 5: unknown name 'nosuch'"),
    ("-cap", r"minus sign .* only allowed before an integer"),
    ("pc[v0] = é", r"unexpected character 'é'"),
    ("1" * 30 + " = 1", r"integer '1111.*' is too large"),
])
def test_errors_are_one_line_and_say_where(lbr, text, message):
    with pytest.raises(InputError, match=message) as info:
        parse_expr(text, lbr)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("query: ")


def test_sizes_refuse_elements_the_instance_lacks(lbr):
    assert show(parse_expr("cpu[v1] = p1", lbr, sizes={"vCPU": 2, "pCPU": 2}))
    with pytest.raises(InputError, match=r"v2 is not an element of vCPU in this instance \(2 elements: v0, v1\)"):
        parse_expr("cpu[v2] = p1", lbr, sizes={"vCPU": 2, "pCPU": 2})
    with pytest.raises(InputError, match=r"last\(pCPU\) - 2 is not an element"):
        parse_expr("cpu[v1] = last(pCPU) - 2", lbr, sizes={"vCPU": 2, "pCPU": 2})


def test_length_and_depth_are_bounded(lbr):
    with pytest.raises(InputError, match=f"more than the {MAX_LENGTH} allowed"):
        parse_expr("cap and " * 300 + "cap", lbr)
    deep = "(" * 1000 + "cap" + ")" * 1000
    with pytest.raises(InputError, match="more than the"):
        parse_expr(deep, lbr)
    for text in (deep, "not " * 1000 + "cap", "cap => " * 1000 + "cap", "pc[" * 1000 + "v0" + "]" * 1000,
                 "owns(" * 1000, "exists v: vCPU. " * 1000 + "cap"):
        with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} deep"):
            parse_expr(text, lbr, max_length=100_000)
    # just inside the limit is fine
    ok = "(" * (MAX_DEPTH - 1) + "cap" + ")" * (MAX_DEPTH - 1)
    assert show(parse_expr(ok, lbr)) == "cap"
    # a long flat conjunction is not nesting
    assert len(parse_expr(" and ".join(["cap"] * 300), lbr, max_length=100_000).args) == 300
    with pytest.raises(InputError, match="expected text"):
        parse_expr(None, lbr)  # type: ignore[arg-type]


def test_a_model_of_its_own_with_ranges_and_a_zero_argument_definition():
    model = tiny_model()
    for text in ("nobody() and n = (-2)", "exists k: -2..3. n = k", "forall b: bool. b or not b",
                 "(if n < 0 then 0 - n else n) % 2 = 1", "crit[p1] != crit[first(Proc)]"):
        e = parse_expr(text, model)
        assert show(parse_expr(show(e), model)) == show(e)
    e = parse_expr("exists k: -2..3. n = k", model)
    assert isinstance(e, Quant) and e.var.dom == RangeDomain(-2, 3)
    assert isinstance(parse_expr("n", model, expect_bool=False).dom, RangeDomain)
    assert isinstance(parse_expr("(-2)", model, expect_bool=False), Lit)
    with pytest.raises(InputError, match="'nobody' is a definition"):
        parse_expr("nobody", model)
    with pytest.raises(InputError, match="empty range 3..1"):
        parse_expr("exists k: 3..1. n = k", model)


_ALPHABET = ["cap", "pc", "ev", "rec", "v0", "p1", "IDLE", "ACTIVE", "none", "vcpu", "owns", "next", "last",
             "first", "vCPU", "pCPU", "forall", "exists", "if", "then", "else", "not", "and", "or", "is",
             "true", "false", "x", "(", ")", "[", "]", ",", ":", ".", "..", "=", "!=", "<", "<=", ">", ">=",
             "=>", "+", "-", "*", "%", "0", "1", "-3", "99999999999999999999", " ", "\n", "é", "==", "&&", "!"]


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=30) | st.text(max_size=60))
def test_fuzz_any_text_is_an_expression_or_an_input_error(tokens):
    lbr = built("guest_lbr")
    text = tokens if isinstance(tokens, str) else " ".join(tokens)
    for expect_bool in (True, False):
        try:
            e = parse_expr(text, lbr, expect_bool=expect_bool)
        except InputError as err:
            assert "\n" not in str(err)
        else:
            assert show(parse_expr(show(e), lbr, expect_bool=expect_bool)) == show(e)


def test_the_deepest_text_allowed_leaves_room_on_the_stack(lbr):
    """At the depth limit the parser uses a few hundred frames at most, so a caller already
    400 frames deep (a web server's handler) still gets an expression, not a RecursionError."""
    d = MAX_DEPTH - 1
    texts = ["(" * d + "cap" + ")" * d, "not " * d + "cap", "cap => " * d + "cap",
             "cpu[" * (d - 1) + "v0" + "]" * (d - 1) + " = p0", "exists v: vCPU. " * d + "cap",
             "if cap then " * d + "cap" + " else cap" * d]

    def at_depth(n, text):
        return at_depth(n - 1, text) if n else parse_expr(text, lbr, max_length=100_000, expect_bool=False)

    for text in texts:
        try:
            at_depth(400, text)
        except InputError as e:  # cpu[cpu[...]]: well nested, ill typed
            assert "must be of sort vCPU, got pCPU" in str(e)
