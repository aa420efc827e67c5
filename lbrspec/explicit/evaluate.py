"""The reference semantics: evaluating expressions and actions on explicit states.

This is the one definition of what a model *means* on a finite instance, written for clarity,
not speed.  Every other engine is checked against it: the compiled explorer
(:mod:`lbrspec.explicit.compile`) on whole state spaces, solver traces and Hypothesis traces by
replaying them here (:func:`replay_step`).

Values are codes (see :mod:`lbrspec.lang.domains`); booleans are Python ``bool`` or 0/1.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

from ..errors import EvaluationError
from ..lang.domains import SortDomain, UnionDomain
from ..lang.expr import (
    And,
    Apply,
    Arith,
    Shift,
    SortConst,
    arith,
    Assign,
    AssignAll,
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
    Update,
    VarRef,
)
from ..lang.spec import Action
from .instance import Instance, State

Env = Mapping[Local, int]


def evaluate(e: Expr, inst: Instance, state: Sequence[int], env: Env) -> int | bool:
    """The value (code) of ``e`` in ``state`` with locals bound by ``env``."""
    if isinstance(e, Lit):
        return e.code
    if isinstance(e, Local):
        try:
            return env[e]
        except KeyError:
            raise EvaluationError(f"'{e.name}' is not bound") from None
    if isinstance(e, VarRef):
        idx = [int(evaluate(a, inst, state, env)) for a in e.args]
        return state[inst.slot(e.var, idx)] + e.var.dom.offset
    if isinstance(e, Not):
        return not evaluate(e.arg, inst, state, env)
    if isinstance(e, And):
        return all(evaluate(a, inst, state, env) for a in e.args)
    if isinstance(e, Or):
        return any(evaluate(a, inst, state, env) for a in e.args)
    if isinstance(e, Implies):
        return (not evaluate(e.a, inst, state, env)) or bool(evaluate(e.b, inst, state, env))
    if isinstance(e, Eq):
        return int(evaluate(e.a, inst, state, env)) == int(evaluate(e.b, inst, state, env))
    if isinstance(e, Ite):
        return evaluate(e.then if evaluate(e.cond, inst, state, env) else e.else_, inst, state, env)
    if isinstance(e, Arith):
        return arith(e.op, int(evaluate(e.a, inst, state, env)), int(evaluate(e.b, inst, state, env)))
    if isinstance(e, SortConst):
        return e.code(inst.sizes[e.sort])
    if isinstance(e, Shift):
        assert isinstance(e.dom, SortDomain)
        return (int(evaluate(e.arg, inst, state, env)) + e.k) % inst.sizes[e.dom.sort]
    if isinstance(e, Cmp):
        a, b = int(evaluate(e.a, inst, state, env)), int(evaluate(e.b, inst, state, env))
        return a < b if e.op == "<" else a <= b
    if isinstance(e, Ctor):
        assert isinstance(e.dom, UnionDomain)
        return e.dom.ctor_offset(e.ctor, inst.sizes) + int(evaluate(e.arg, inst, state, env))
    if isinstance(e, IsTag):
        d = e.arg.dom
        assert isinstance(d, UnionDomain)
        code = int(evaluate(e.arg, inst, state, env))
        if e.tag in d.consts:
            return code == d.consts.index(e.tag)
        off = d.ctor_offset(e.tag, inst.sizes)
        return off <= code < off + inst.sizes[d.ctor_sort(e.tag)]
    if isinstance(e, Quant):
        codes = inst.domain_codes(e.var.dom)
        results = (evaluate(e.body, inst, state, {**env, e.var: c}) for c in codes)
        return all(results) if e.universal else any(results)
    if isinstance(e, Apply):
        inner = {p: int(evaluate(a, inst, state, env)) for p, a in zip(e.defn.params, e.args)}
        return evaluate(e.defn.body, inst, state, {**env, **inner})
    raise TypeError(f"cannot evaluate {type(e).__name__}")


def out_of_range(action: str, var: str, value: int, dom: str) -> str:
    """The one wording of an out-of-range write, shared by every engine so that they report
    the same error for the same step."""
    return f"action '{action}' sets {var} to {value}, outside {dom}"


def holds(e: Expr, inst: Instance, state: Sequence[int], env: Env | None = None) -> bool:
    return bool(evaluate(e, inst, state, env or {}))


def _writes(u: Update, inst: Instance, state: Sequence[int], env: Env, action: str) -> Iterator[tuple[int, int]]:
    var = u.var
    if isinstance(u, Assign):
        targets = [([int(evaluate(a, inst, state, env)) for a in u.args], env)]
    else:
        assert isinstance(u, AssignAll)
        targets = []
        for idx in inst.bindings(u.bound):
            targets.append((list(idx), {**env, **dict(zip(u.bound, idx))}))
    for idx, env2 in targets:
        value = int(evaluate(u.value, inst, state, env2))
        dom = var.dom
        code = value - dom.offset
        if not 0 <= code < dom.size(inst.sizes):
            raise EvaluationError(out_of_range(action, var.name, value, dom.name))
        yield inst.slot(var, idx), code


def step(inst: Instance, action: Action, params: Sequence[int], state: State) -> State | None:
    """The successor of ``state`` by ``action`` with ``params``, or ``None`` if not enabled.

    All updates read the pre-state (parallel assignment); unwritten slots keep their values.
    """
    env = dict(zip(action.params, params))
    if not evaluate(action.guard, inst, state, env):
        return None
    new = list(state)
    for u in action.updates:
        for slot, value in _writes(u, inst, state, env, action.name):
            new[slot] = value
    return tuple(int(x) for x in new)


def successors(inst: Instance, state: State) -> Iterator[tuple[Action, tuple[int, ...], State]]:
    """Every enabled (action, parameters, successor), in declaration and binding order."""
    for a in inst.model.actions:
        for b in inst.bindings(a.params):
            t = step(inst, a, b, state)
            if t is not None:
                yield a, b, t


def violated_invariants(inst: Instance, state: State) -> list[str]:
    return [i.name for i in inst.model.invariants if not holds(i.body, inst, state)]
