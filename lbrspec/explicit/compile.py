"""Compiling a model instance to straight-line Python for the explorer.

For a finite instance every action parameter and every quantified variable ranges over a
known finite set, so each (action, parameter binding) pair is *partially evaluated*: parameters
become constants, quantifiers are unrolled, constant sub-expressions fold away, and what is left
is one ``if <guard>:`` block reading state slots ``s[k]`` and writing a copy.  All blocks go
into one generated function ``successors(s)``; invariants and goals become one function each.

The generated code must agree with the reference semantics in
:mod:`lbrspec.explicit.evaluate`; the test suite checks that on whole reachable state spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import EvaluationError
from ..lang.domains import RangeDomain, SortDomain, UnionDomain
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
    VarRef,
    expand,
)
from ..lang.spec import Action
from .evaluate import out_of_range
from .instance import Instance, State

# A generated fragment: either a Python constant (folded) or source text.
Frag = tuple[bool, object]  # (is_const, value-or-source)


def _c(v: object) -> Frag:
    return (True, v)


def _src(s: str) -> Frag:
    return (False, s)


def _text(f: Frag) -> str:
    return repr(int(f[1])) if f[0] and isinstance(f[1], bool) else (repr(f[1]) if f[0] else str(f[1]))


class _Gen:
    """Partial evaluator from expressions to Python source over the state tuple ``s``.

    The ``fmt_*`` hooks decide how the residual (non-constant) operations are written, so the
    same partial evaluation serves scalar Python here and numpy arrays in
    :mod:`lbrspec.explicit.vcompile`.
    """

    def __init__(self, inst: Instance, state_name: str = "s") -> None:
        self.inst = inst
        self.s = state_name

    # -- how residual operations are written (scalar Python) ------------------------------
    def fmt_read(self, slot: str, var) -> str:
        return f"{self.s}[{slot}]"

    def fmt_not(self, a: str) -> str:
        return f"(not {a})"

    def fmt_junction(self, is_and: bool, parts: list[str]) -> str:
        return "(" + (" and " if is_and else " or ").join(parts) + ")"

    def fmt_ite(self, c: str, t: str, f: str) -> str:
        return f"({t} if {c} else {f})"

    def fmt_range(self, x: str, lo: int, hi: int) -> str:
        return f"({lo} <= {x} < {hi})"

    def fmt_mod(self, a: str, n: int) -> str:
        """Mathematical modulo by a positive constant (Python's ``%`` already is one)."""
        return f"({a} % {n})"

    # -- partial evaluation -----------------------------------------------------------------
    def expr(self, e: Expr, env: dict[Local, int]) -> Frag:
        if isinstance(e, Lit):
            return _c(e.code)
        if isinstance(e, Local):
            return _c(env[e])
        if isinstance(e, VarRef):
            read = self.fmt_read(self.slot_expr(e.var, e.args, env), e.var)
            off = e.var.dom.offset
            return _src(read if not off else f"({read} + {off})")
        if isinstance(e, SortConst):
            return _c(e.code(self.inst.sizes[e.sort]))
        if isinstance(e, Shift):
            assert isinstance(e.dom, SortDomain)
            n = self.inst.sizes[e.dom.sort]
            a = self.expr(e.arg, env)
            k = e.k % n
            if a[0]:
                return _c((int(a[1]) + k) % n)  # type: ignore[arg-type]
            return _src(self.fmt_mod(f"({a[1]} + {k})", n) if k else str(a[1]))
        if isinstance(e, Not):
            a = self.expr(e.arg, env)
            return _c(not a[1]) if a[0] else _src(self.fmt_not(str(a[1])))
        if isinstance(e, (And, Or)):
            return self._junction(isinstance(e, And), [self.expr(a, env) for a in e.args])
        if isinstance(e, Implies):
            a = self.expr(e.a, env)
            if a[0]:
                return self.expr(e.b, env) if a[1] else _c(True)
            b = self.expr(e.b, env)
            if b[0]:
                return _c(True) if b[1] else _src(self.fmt_not(str(a[1])))
            return _src(self.fmt_junction(False, [self.fmt_not(str(a[1])), str(b[1])]))
        if isinstance(e, Eq):
            a, b = self.expr(e.a, env), self.expr(e.b, env)
            if a[0] and b[0]:
                return _c(int(a[1]) == int(b[1]))  # type: ignore[arg-type]
            return _src(f"({_text(a)} == {_text(b)})")
        if isinstance(e, Ite):
            c = self.expr(e.cond, env)
            if c[0]:
                return self.expr(e.then if c[1] else e.else_, env)
            t, f = self.expr(e.then, env), self.expr(e.else_, env)
            return _src(self.fmt_ite(str(c[1]), _text(t), _text(f)))
        if isinstance(e, Arith):
            a, b = self.expr(e.a, env), self.expr(e.b, env)
            if a[0] and b[0]:
                return _c(arith(e.op, int(a[1]), int(b[1])))  # type: ignore[arg-type]
            if e.op == "%":
                return _src(self.fmt_mod(_text(a), int(b[1])))  # type: ignore[arg-type]
            return _src(f"({_text(a)} {e.op} {_text(b)})")
        if isinstance(e, Cmp):
            a, b = self.expr(e.a, env), self.expr(e.b, env)
            if a[0] and b[0]:
                x, y = int(a[1]), int(b[1])  # type: ignore[arg-type]
                return _c(x < y if e.op == "<" else x <= y)
            return _src(f"({_text(a)} {e.op} {_text(b)})")
        if isinstance(e, Ctor):
            assert isinstance(e.dom, UnionDomain)
            off = e.dom.ctor_offset(e.ctor, self.inst.sizes)
            a = self.expr(e.arg, env)
            return _c(off + int(a[1])) if a[0] else _src(f"({off} + {a[1]})")  # type: ignore[arg-type]
        if isinstance(e, IsTag):
            d = e.arg.dom
            assert isinstance(d, UnionDomain)
            a = self.expr(e.arg, env)
            if e.tag in d.consts:
                k = d.consts.index(e.tag)
                return _c(int(a[1]) == k) if a[0] else _src(f"({a[1]} == {k})")  # type: ignore[arg-type]
            lo = d.ctor_offset(e.tag, self.inst.sizes)
            hi = lo + self.inst.sizes[d.ctor_sort(e.tag)]
            return _c(lo <= int(a[1]) < hi) if a[0] else _src(self.fmt_range(str(a[1]), lo, hi))  # type: ignore[arg-type]
        if isinstance(e, Quant):
            terms = [self.expr(e.body, {**env, e.var: c}) for c in self.inst.domain_codes(e.var.dom)]
            return self._junction(e.universal, terms)
        if isinstance(e, Apply):
            return self.expr(expand(e), env)
        raise TypeError(f"cannot compile {type(e).__name__}")

    def _junction(self, is_and: bool, frags: list[Frag]) -> Frag:
        parts: list[str] = []
        for f in frags:
            if f[0]:
                if bool(f[1]) != is_and:  # False in an and / True in an or decides it
                    return _c(not is_and)
                continue
            parts.append(str(f[1]))
        if not parts:
            return _c(is_and)
        if len(parts) == 1:
            return _src(parts[0])
        return _src(self.fmt_junction(is_and, parts))

    def slot_expr(self, var, args: Sequence[Expr], env: dict[Local, int]) -> str:
        base = self.inst.base[var]
        strides = self.inst.strides[var]
        const = base
        dyn: list[str] = []
        for a, st, d in zip(args, strides, var.index):
            f = self.expr(a, env)
            if f[0]:
                const += (int(f[1]) - d.offset) * st  # type: ignore[arg-type]
            else:
                const -= d.offset * st
                dyn.append(f"{f[1]}" if st == 1 else f"{f[1]} * {st}")
        if not dyn:
            return str(const)
        text = " + ".join(([str(const)] if const > 0 else []) + dyn)
        return f"{text} - {-const}" if const < 0 else text


@dataclass
class ActionInstance:
    """One action with its parameters fixed: the unit the explorer enumerates."""

    index: int
    action: Action
    params: tuple[int, ...]


@dataclass
class Compiled:
    """The generated functions for one instance."""

    instance: Instance
    actions: list[ActionInstance]
    successors: Callable[[State], list[tuple[int, State]]]
    invariant_fns: list[Callable[[State], bool]]
    first_violation: Callable[[State], int]
    goal_fns: list[tuple[int, tuple[int, ...], Callable[[State], bool]]]
    step_goal_fns: dict[int, list[tuple[int, Callable[[State], bool]]]]
    source: str


def goal_instances(
    inst: Instance, actions: list[ActionInstance], gen: _Gen
) -> list[tuple[int, int | None, tuple[int, ...], Expr, dict[Local, int]]]:
    """Every goal, instantiated: ``(goal index, action instance or None, binding, body, env)``.

    A state goal gives one instance per binding of its parameters (``None``: any state); a step
    goal gives one per action instance that contains its transition, with the transition's
    parameters bound to that part's arguments (evaluated with the action's parameters)."""
    out: list[tuple[int, int | None, tuple[int, ...], Expr, dict[Local, int]]] = []
    for gi, goal in enumerate(inst.model.goals):
        body = expand(goal.body)
        if goal.on is None:
            for b in inst.bindings(goal.params):
                out.append((gi, None, b, body, dict(zip(goal.params, b))))
            continue
        for ai in actions:
            for part in ai.action.parts:
                if part.transition is not goal.on:
                    continue
                env = dict(zip(ai.action.params, ai.params))
                args = [gen.expr(expand(x), env) for x in part.args]
                if not all(a[0] for a in args):
                    raise TypeError("step goals need transition arguments that are parameters")
                vals = tuple(int(a[1]) for a in args)  # type: ignore[arg-type]
                out.append((gi, ai.index, vals, body, dict(zip(goal.on.params, vals))))
    return out


def _range_check(action: str, var: str, lo: int, hi: int) -> Callable[[int], int]:
    def check(v: int) -> int:
        if not lo <= v <= hi:
            raise EvaluationError(out_of_range(action, var, v, f"{lo}..{hi}"))
        return v

    return check


def compile_instance(inst: Instance) -> Compiled:
    """Generate and compile ``successors``, the invariant and goal functions for ``inst``."""
    model = inst.model
    gen = _Gen(inst)
    lines: list[str] = ["def successors(s):", "    out = []", "    app = out.append"]
    namespace: dict[str, object] = {}
    acts: list[ActionInstance] = []
    for a in model.actions:
        for b in inst.bindings(a.params):
            env = dict(zip(a.params, b))
            g = gen.expr(a.guard_x, env)
            ai = ActionInstance(len(acts), a, b)
            acts.append(ai)
            if g[0] and not g[1]:
                continue  # never enabled for this binding
            body = _update_lines(gen, inst, a, env, namespace, ai.index)
            lines.append(f"    # {a.name}{b}")
            if g[0]:
                lines.append("    if True:")
            else:
                lines.append(f"    if {g[1]}:")
            lines.append("        t = list(s)")
            lines.extend("        " + x for x in body)
            lines.append(f"        app(({ai.index}, tuple(t)))")
    lines.append("    return out")

    inv_names = []
    for k, inv in enumerate(model.invariants):
        f = gen.expr(expand(inv.body), {})
        lines.append(f"def inv_{k}(s):")
        lines.append(f"    return bool({_text(f)})")
        inv_names.append(f"inv_{k}")
    lines.append("def first_violation(s):")
    for k in range(len(model.invariants)):
        lines.append(f"    if not inv_{k}(s): return {k}")
    lines.append("    return -1")

    goal_specs: list[tuple[int, tuple[int, ...], str]] = []
    step_specs: dict[int, list[tuple[int, str]]] = {}
    for n, (gi, step_of, binding, body, env) in enumerate(goal_instances(inst, acts, gen)):
        f = gen.expr(body, env)
        lines.append(f"def goal_{n}(s):")
        lines.append(f"    return bool({_text(f)})")
        if step_of is None:
            goal_specs.append((gi, binding, f"goal_{n}"))
        else:
            step_specs.setdefault(step_of, []).append((gi, f"goal_{n}"))
    source = "\n".join(lines) + "\n"
    code = compile(source, f"<lbrspec:{model.name}:{model.variant.name}>", "exec")
    exec(code, namespace)
    return Compiled(
        instance=inst,
        actions=acts,
        successors=namespace["successors"],  # type: ignore[arg-type]
        invariant_fns=[namespace[n] for n in inv_names],  # type: ignore[misc]
        first_violation=namespace["first_violation"],  # type: ignore[arg-type]
        goal_fns=[(gi, b, namespace[f]) for gi, b, f in goal_specs],  # type: ignore[misc]
        step_goal_fns={k: [(gi, namespace[f]) for gi, f in v] for k, v in step_specs.items()},  # type: ignore[misc]
        source=source,
    )


def _update_lines(gen: _Gen, inst: Instance, a: Action, env: dict[Local, int], ns: dict[str, object], aid: int) -> list[str]:
    out: list[str] = []
    for u in a.updates_x:
        var = u.var
        targets: list[tuple[str, dict[Local, int]]] = []
        if isinstance(u, Assign):
            targets.append((gen.slot_expr(var, u.args, env), env))
        else:
            assert isinstance(u, AssignAll)
            for idx in inst.bindings(u.bound):
                env2 = {**env, **dict(zip(u.bound, idx))}
                targets.append((str(inst.slot(var, idx)), env2))
        for slot, env2 in targets:
            f = gen.expr(u.value, env2)
            off = var.dom.offset
            if f[0] and (not isinstance(var.dom, RangeDomain) or var.dom.lo <= int(f[1]) <= var.dom.hi):  # type: ignore[arg-type]
                out.append(f"t[{slot}] = {int(f[1]) - off}")  # type: ignore[arg-type]
                continue
            val = _text(f)
            # a constant out of range is reported when the step is taken, as the reference
            # semantics does, not when compiling (the guard may never hold)
            if isinstance(var.dom, RangeDomain) and (f[0] or not (
                isinstance(u.value.dom, RangeDomain) and var.dom.contains(u.value.dom)
            )):
                chk = f"_chk_{aid}_{var.name}"
                ns[chk] = _range_check(a.name, var.name, var.dom.lo, var.dom.hi)
                val = f"{chk}({val})"
            out.append(f"t[{slot}] = {val}" if not off else f"t[{slot}] = {val} - {off}" if off > 0 else f"t[{slot}] = {val} + {-off}")
    return out
